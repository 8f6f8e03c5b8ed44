/**
 * Unit tests: the shipped blueprints (blueprints/*.ts) run against the in-memory fake factory — when each one
 * spawns, what it tells the agent, when it stops, and which args it refuses.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fanOutReview from "../../blueprints/fan-out-review.ts";
import lintFixer from "../../blueprints/lint-fixer.ts";
import parallelItems from "../../blueprints/parallel-items.ts";
import perModule from "../../blueprints/per-module.ts";
import prdTasks from "../../blueprints/prd-tasks.ts";
import progressTracking from "../../blueprints/progress-tracking.ts";
import safetyChecks from "../../blueprints/safety-checks.ts";
import untilTestsPass from "../../blueprints/until-tests-pass.ts";
import type { CheckResult, SpawnOptions, SpawnResult } from "../../extensions/core/factory-api.ts";
import { failing, fakeFactory, passing } from "../support/fake-factory.ts";
import { tempTree } from "../support/temp-tree.ts";

/** Check results failing with `count` failures each time (the same ids, so the same fingerprint). */
const failingWith = (count: number, prefix = "f"): CheckResult =>
	failing(Array.from({ length: count }, (_, i) => `${prefix}${i}`));
const always = (result: CheckResult) => () => result;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("lint-fixer", () => {
	it("spawns a fixer per failing lint check and stops once lint passes (2 spawns, 3 checks)", async () => {
		const factory = fakeFactory({
			checks: [failing(["a.ts:1 no-var", "b.ts:2 eqeqeq"]), failing(["b.ts:2 eqeqeq"]), passing()],
		});
		await expect(lintFixer(factory, [])).resolves.toEqual({ passed: true, fixes: 2 });
		expect(factory.checked.map((c) => c.check)).toEqual(["lint", "lint", "lint"]);
		expect(factory.spawned.map((s) => s.step)).toEqual([1, 2]);
		expect(factory.spawned[0].prompt).toContain("- a.ts:1 no-var");
		expect(factory.spawned[1].prompt).not.toContain("a.ts:1 no-var");
	});
	it("gives up after max fixes with lint still failing, checking once more after the last fix", async () => {
		const factory = fakeFactory({ checks: always(failingWith(2)) });
		await expect(lintFixer(factory, ["3"])).rejects.toThrow("lint still fails after 3 fix(es): 2 failure(s) left");
		expect(factory.spawned).toHaveLength(3);
		expect(factory.checked).toHaveLength(4);
	});
	it("stops at the first fixer that does not finish", async () => {
		const factory = fakeFactory({
			checks: always(failingWith(1)),
			spawn: () => ({ exitCode: 1, errorMessage: "provider down" }),
		});
		await expect(lintFixer(factory, [])).rejects.toThrow("fixer 1 did not finish: provider down");
		expect(factory.spawned).toHaveLength(1);
	});
	it("spawns nothing once the run is aborted", async () => {
		const factory = fakeFactory({ checks: always(failingWith(1)) });
		factory.abort();
		await expect(lintFixer(factory, [])).rejects.toThrow("aborted by test");
		expect(factory.spawned).toHaveLength(0);
	});
	it("refuses a max that is not a positive whole number, and extra args", async () => {
		const factory = fakeFactory();
		await expect(lintFixer(factory, ["0"])).rejects.toThrow('max fixes must be a positive whole number, got "0"');
		await expect(lintFixer(factory, ["two"])).rejects.toThrow('got "two"');
		await expect(lintFixer(factory, ["1", "2"])).rejects.toThrow("at most one arg");
		expect(factory.checked).toHaveLength(0);
	});
});

describe("progress-tracking", () => {
	it("stops after exactly N fixes without a drop in the failure count", async () => {
		const factory = fakeFactory({ checks: always(failingWith(5)) });
		await expect(progressTracking(factory, ["tests", "--stagnation", "3"])).rejects.toThrow(
			"tests: stagnated at 5 failure(s) (best 5) for 3 fix(es)",
		);
		expect(factory.spawned).toHaveLength(3);
		expect(factory.state.progress).toMatchObject({ check: "tests", counts: [5, 5, 5, 5], roundsWithoutDrop: 3 });
		expect(JSON.parse(JSON.stringify(factory.state))).toEqual(factory.state);
	});
	it("counts a new lowest as progress and a rise as none", async () => {
		const counts = [5, 4, 6, 3, 3, 4, 3];
		const factory = fakeFactory({ checks: (_check, i) => failingWith(counts[i]) });
		await expect(progressTracking(factory, [])).rejects.toThrow("lint: stagnated at 3 failure(s) (best 3)");
		expect(factory.spawned).toHaveLength(6);
		expect(factory.checked.every((c) => c.check === "lint")).toBe(true);
		expect(factory.spawned[3].prompt).toContain("Failure count per round so far: 5 → 4 → 6 → 3.");
		expect(factory.spawned[5].prompt).toContain("The last 2 attempt(s) did not lower the count");
	});
	it("returns the history once the check passes", async () => {
		const factory = fakeFactory({ checks: [failingWith(3), failingWith(1), passing()] });
		await expect(progressTracking(factory, ["npm run check"])).resolves.toEqual({
			passed: true,
			fixes: 2,
			counts: [3, 1, 0],
		});
		expect(factory.checked[0].check).toBe("npm run check");
		expect(factory.metrics).toEqual([
			{ name: "failures", value: 3 },
			{ name: "failures", value: 1 },
		]);
	});
	it("stops at --max when the count keeps dropping", async () => {
		const factory = fakeFactory({ checks: (_check, i) => failingWith(10 - i) });
		await expect(progressTracking(factory, ["--max", "2"])).rejects.toThrow("lint still fails after 2 fix(es)");
		expect(factory.spawned).toHaveLength(2);
	});
	it("refuses bad args", async () => {
		const factory = fakeFactory();
		await expect(progressTracking(factory, ["--stagnation", "0"])).rejects.toThrow(
			'--stagnation needs a positive whole number, got "0"',
		);
		await expect(progressTracking(factory, ["--max"])).rejects.toThrow('--max needs a positive whole number, got ""');
		await expect(progressTracking(factory, ["--bogus"])).rejects.toThrow("unknown flag --bogus");
		await expect(progressTracking(factory, ["lint", "tests"])).rejects.toThrow('got extra "tests"');
		await expect(progressTracking(factory, [" "])).rejects.toThrow("the check is empty");
	});
});

describe("until-tests-pass", () => {
	it("hands the tests check, the goal and max to factory.loop and returns a passed outcome", async () => {
		const factory = fakeFactory({ checks: [failingWith(1), passing()] });
		const outcome = await untilTestsPass(factory, ["--max", "4", "fix", "the", "parser"]);
		expect(outcome).toMatchObject({ reason: "passed", iterations: 1 });
		expect(factory.loops).toEqual([{ check: "tests", prompt: "fix the parser", max: 4 }]);
		expect(factory.spawned.map((s) => s.prompt)).toEqual(["fix the parser"]);
	});
	it("throws with the end reason when the tests do not pass, so the run ends failed", async () => {
		const factory = fakeFactory({ checks: always(failingWith(2)) });
		await expect(untilTestsPass(factory, ["--max", "2"])).rejects.toThrow(
			"tests still failing: max-iterations after 2 iteration(s) (2 failure(s) left)",
		);
		expect(factory.loops[0].prompt).toMatch(/^Make the failing tests pass/);
		expect(factory.logs.at(-1)?.level).toBe("error");
	});
	it("says so when the runner found no tests", async () => {
		const factory = fakeFactory({ checks: always(failing([], { noTests: "no test files found" })) });
		await expect(untilTestsPass(factory, ["--max", "1"])).rejects.toThrow("(no test files found)");
	});
	it("refuses bad args", async () => {
		const factory = fakeFactory();
		await expect(untilTestsPass(factory, ["--max", "-1"])).rejects.toThrow(
			'--max needs a positive whole number, got "-1"',
		);
		await expect(untilTestsPass(factory, ["--maxx", "1"])).rejects.toThrow("unknown flag --maxx");
		expect(factory.loops).toHaveLength(0);
	});
});

describe("prd-tasks", () => {
	const prd = [
		"# PRD",
		"",
		"- [ ] parse the config",
		"- [x] set up the repo",
		"- [ ] add --verbose",
		"* [ ] write docs",
		"",
	];
	/** A PRD in a temp dir and a spawn answer that ticks the item named in the prompt (when `ticks` says so). */
	const setup = (ticks: (item: string) => boolean = () => true) => {
		const path = join(tempTree("pi-loop-prd-", { "PRD.md": prd.join("\n") }), "PRD.md");
		const worked: string[] = [];
		const spawn = (options: { prompt: string }) => {
			const item = /^ {2}(.+)$/m.exec(options.prompt)![1];
			worked.push(item);
			if (ticks(item)) {
				writeFileSync(path, readFileSync(path, "utf8").replace(`[ ] ${item}`, `[x] ${item}`));
			}
			return {};
		};
		return { path, worked, spawn };
	};

	it("works the open items one spawn each, in file order, and stops when all are ticked", async () => {
		const { path, worked, spawn } = setup();
		const factory = fakeFactory({ spawn });
		await expect(prdTasks(factory, [path])).resolves.toEqual({
			worked: ["parse the config", "add --verbose", "write docs"],
			spawns: 3,
		});
		expect(worked).toEqual(["parse the config", "add --verbose", "write docs"]);
		expect(factory.spawned.map((s) => s.step)).toEqual(["item 1.1", "item 3.1", "item 4.1"]);
		expect(factory.spawned.map((s) => s.hydrate)).toEqual(worked);
		expect(factory.spawned[1].prompt).toContain("Already done:\n- parse the config\n- set up the repo");
		expect(readFileSync(path, "utf8")).not.toContain("[ ]");
	});
	it("retries an item the agent left open, then stops instead of skipping it", async () => {
		const { path, worked, spawn } = setup((item) => item !== "add --verbose");
		const factory = fakeFactory({ spawn });
		await expect(prdTasks(factory, [path, "--attempts", "2"])).rejects.toThrow(
			'"add --verbose" still open after 2 attempt(s)',
		);
		expect(worked).toEqual(["parse the config", "add --verbose", "add --verbose"]);
		expect(factory.spawned.map((s) => s.step)).toEqual(["item 1.1", "item 3.1", "item 3.2"]);
	});
	it("stops at --max spawns with items still open", async () => {
		const { path, spawn } = setup();
		const factory = fakeFactory({ spawn });
		await expect(prdTasks(factory, [path, "--max", "2"])).rejects.toThrow("1 item(s) still open after 2 spawn(s)");
		expect(factory.spawned).toHaveLength(2);
	});
	it("spawns nothing for a PRD with every item ticked", async () => {
		const dir = tempTree("pi-loop-prd-", { "PRD.md": "- [x] one\n- [X] two\n" });
		const factory = fakeFactory();
		await expect(prdTasks(factory, [join(dir, "PRD.md")])).resolves.toEqual({ worked: [], spawns: 0 });
		expect(factory.spawned).toHaveLength(0);
	});
	it("refuses a missing file, a file without checklist items and bad flags", async () => {
		const dir = tempTree("pi-loop-prd-", { "notes.md": "# nothing to do\n- a plain bullet\n" });
		const factory = fakeFactory();
		await expect(prdTasks(factory, [join(dir, "PRD.md")])).rejects.toThrow(`no PRD file at ${join(dir, "PRD.md")}`);
		await expect(prdTasks(factory, [join(dir, "notes.md")])).rejects.toThrow('has no "- [ ]" checklist items');
		await expect(prdTasks(factory, ["--attempts", "0"])).rejects.toThrow("--attempts needs a positive whole number");
		await expect(prdTasks(factory, ["a.md", "b.md"])).rejects.toThrow('one PRD file only, got extra "b.md"');
		expect(factory.spawned).toHaveLength(0);
	});
});

describe("safety-checks", () => {
	/** Failing checks whose fingerprint changes every call, so stagnation never stops the run. */
	const changing = (_check: string, i: number) => failing([`f${i}`]);

	it("stops after K agent failures in a row", async () => {
		const factory = fakeFactory({ checks: changing, spawn: () => ({ exitCode: 1, errorMessage: "timeout" }) });
		await expect(safetyChecks(factory, ["--failures", "2"])).rejects.toThrow(
			"stopped by agent failures: 2 failed spawns in a row",
		);
		expect(factory.spawned).toHaveLength(2);
		expect(factory.state.stoppedBy).toBe("agent failures");
	});
	it("starts the count again after a spawn that finishes", async () => {
		const codes = [1, 0, 1, 0, 1, 1] as const;
		const factory = fakeFactory({ checks: changing, spawn: (_o, i) => ({ exitCode: codes[i] }) });
		await expect(safetyChecks(factory, [])).rejects.toThrow("stopped by agent failures");
		expect(factory.spawned).toHaveLength(6);
	});
	it("stops when the failure fingerprint stays the same for N checks after the first", async () => {
		const factory = fakeFactory({
			checks: (_check, i) => failing([`t${i}`], { fingerprint: "same" }),
		});
		await expect(safetyChecks(factory, ["lint", "--stagnation", "2"])).rejects.toThrow(
			"stopped by stagnation: the same failure 3 checks in a row",
		);
		expect(factory.spawned).toHaveLength(2);
		expect(factory.checked.map((c) => c.check)).toEqual(["lint", "lint", "lint"]);
	});
	it("stops at --max when every round changes something", async () => {
		const factory = fakeFactory({ checks: changing });
		await expect(safetyChecks(factory, ["--max", "4"])).rejects.toThrow("stopped by max: 4 fix(es) made");
		expect(factory.spawned).toHaveLength(4);
	});
	it("stops before a spawn when the budget left is below the costliest spawn so far", async () => {
		const factory = fakeFactory({ checks: changing, maxCost: 1, spawn: () => ({ cost: 0.4 }) });
		await expect(safetyChecks(factory, [])).rejects.toThrow("stopped by budget: $0.20 left, reserve $0.40");
		expect(factory.spawned).toHaveLength(2);
	});
	it("keeps --reserve dollars back when given", async () => {
		const factory = fakeFactory({ checks: changing, maxCost: 1, spawn: () => ({ cost: 0.4 }) });
		await expect(safetyChecks(factory, ["--reserve", "0.7"])).rejects.toThrow("$0.60 left, reserve $0.70");
		expect(factory.spawned).toHaveLength(1);
	});
	it("stops when no spawns are left under --max-spawns", async () => {
		const factory = fakeFactory({ checks: changing, maxSpawns: 3 });
		await expect(safetyChecks(factory, [])).rejects.toThrow("no spawns left under --max-spawns");
		expect(factory.spawned).toHaveLength(3);
	});
	it("returns once the check passes", async () => {
		const factory = fakeFactory({ checks: [failing(["x"]), passing()] });
		await expect(safetyChecks(factory, ["types"])).resolves.toEqual({ passed: true, fixes: 1 });
	});
	it("refuses bad args", async () => {
		const factory = fakeFactory();
		await expect(safetyChecks(factory, ["--reserve", "lots"])).rejects.toThrow("--reserve needs an amount in dollars");
		await expect(safetyChecks(factory, ["--reserve", "-1"])).rejects.toThrow('got "-1"');
		await expect(safetyChecks(factory, ["--failures", "1.5"])).rejects.toThrow("--failures needs a positive whole");
		await expect(safetyChecks(factory, ["tests", "lint"])).rejects.toThrow("give one non-empty check");
		expect(factory.checked).toHaveLength(0);
	});
});

describe("per-module", () => {
	const modules = () => {
		const root = tempTree("pi-loop-modules-", { "auth/a.ts": "", "api/b.ts": "", "README.md": "" });
		return { auth: join(root, "auth"), api: join(root, "api"), readme: join(root, "README.md") };
	};

	it("runs one inner loop per module with its own check, and fails naming the modules that did not pass", async () => {
		const { auth, api } = modules();
		const factory = fakeFactory({
			checks: (check, i) => (check.endsWith(auth) && i > 0 ? passing() : failing([`${check} failed`])),
		});
		await expect(perModule(factory, [auth, api, "--check", "npm test -- {dir}", "--max", "2"])).rejects.toThrow(
			`per-module: 1/2 module(s) not passing: ${api}`,
		);
		expect(factory.loops.map((l) => [l.check, l.max])).toEqual([
			[`npm test -- ${auth}`, 2],
			[`npm test -- ${api}`, 2],
		]);
		expect(factory.spawned.map((s) => s.step)).toEqual([`${auth}#1`, `${api}#1`, `${api}#2`]);
		expect(factory.spawned[1].prompt).toContain(`Work only inside ${api}.`);
		expect(factory.phases).toEqual([`module 1/2: ${auth}`, `module 2/2: ${api}`]);
		expect(factory.state.modules).toEqual({ [auth]: "passed", [api]: "max-iterations" });
		expect(factory.logs.map((l) => l.message)).toEqual([
			`${auth}: passed after 1 iteration(s)`,
			`${api}: max-iterations after 2 iteration(s)`,
		]);
	});
	it("returns every module's outcome when all pass, with the tests check by default", async () => {
		const { auth, api } = modules();
		const factory = fakeFactory({ checks: always(passing()) });
		await expect(perModule(factory, [auth, api])).resolves.toEqual({ [auth]: "passed", [api]: "passed" });
		expect(factory.loops.map((l) => [l.check, l.max])).toEqual([
			["tests", 5],
			["tests", 5],
		]);
	});
	it("refuses module paths that are not directories and bad flags", async () => {
		const { auth, readme } = modules();
		const factory = fakeFactory();
		await expect(perModule(factory, [auth, readme])).rejects.toThrow(`"${readme}" is not a directory`);
		await expect(perModule(factory, [auth, "--check"])).rejects.toThrow("--check needs a check or command");
		await expect(perModule(factory, [auth, "--max", "x"])).rejects.toThrow("--max needs a positive whole number");
		await expect(perModule(factory, ["--only", auth])).rejects.toThrow("unknown flag --only");
		expect(factory.loops).toHaveLength(0);
	});
	it("without dirs, looks under src/ (this checkout has none)", async () => {
		await expect(perModule(fakeFactory(), [])).rejects.toThrow("no module dirs given and no src/ directory");
	});
});

describe("fan-out-review", () => {
	/** Workers answer after a pause (so they overlap when started together); the reviewer says `verdict`. */
	const team = (verdict: string, workerExit: (i: number) => 0 | 1 = () => 0) => ({
		spawn: async (options: { agent?: string }, index: number) => {
			if (options.agent === "reviewer") return { text: verdict };
			await sleep(5);
			return { text: `worker ${index + 1} report`, exitCode: workerExit(index), filesChanged: [`f${index}.ts`] };
		},
	});

	it("starts every worker before any finishes, then reviews all their answers", async () => {
		const factory = fakeFactory(team("PASS\nall three look right"));
		await expect(fanOutReview(factory, ["add login", "add logout", "add signup"])).resolves.toEqual({
			items: 3,
			workers: 3,
		});
		expect(factory.events.slice(0, 3).sort()).toEqual(["start:0", "start:1", "start:2"]);
		expect(factory.events.slice(3, 6).sort()).toEqual(["end:0", "end:1", "end:2"]);
		expect(factory.events.slice(6)).toEqual(["start:3", "end:3"]);
		const [review] = factory.spawned.slice(3);
		expect(review).toMatchObject({ agent: "reviewer", role: "review", step: "review" });
		for (const i of [1, 2, 3]) expect(review.prompt).toContain(`worker ${i} report`);
		expect(review.prompt).toContain("Files changed: f0.ts");
		expect(factory.spawned.slice(0, 3).every((s) => s.agent === "worker")).toBe(true);
	});
	it("deals items round-robin into --workers groups", async () => {
		const factory = fakeFactory(team("PASS"));
		await fanOutReview(factory, ["a", "b", "c", "d", "e", "--workers", "2"]);
		expect(factory.spawned).toHaveLength(3);
		expect(factory.spawned[0].prompt).toMatch(/- a\n- c\n- e\n/);
		expect(factory.spawned[1].prompt).toMatch(/- b\n- d\n/);
	});
	it("ends failed when the review lists problems instead of PASS", async () => {
		const factory = fakeFactory(team("1. src/login.ts: the session is never closed. Not a PASS."));
		await expect(fanOutReview(factory, ["add login", "add logout"])).rejects.toThrow(
			"fan-out-review: review did not pass:\n1. src/login.ts",
		);
		expect(factory.logs.at(-1)).toMatchObject({ level: "error", message: "review found problems" });
	});
	it("does not review when a worker failed", async () => {
		const factory = fakeFactory(team("PASS", (i) => (i === 1 ? 1 : 0)));
		await expect(fanOutReview(factory, ["a", "b", "c"])).rejects.toThrow("worker(s) 2 did not finish");
		expect(factory.spawned.map((s) => s.agent)).toEqual(["worker", "worker", "worker"]);
	});
	it("takes the open items of a markdown file with --file", async () => {
		const dir = tempTree("pi-loop-fan-", { "work.md": "# Work\n- [ ] one\n- [x] done already\n- [ ] two\n" });
		const factory = fakeFactory(team("PASS"));
		await expect(fanOutReview(factory, ["--file", join(dir, "work.md")])).resolves.toEqual({ items: 2, workers: 2 });
		expect(factory.spawned[0].prompt).toContain("- one\n");
		expect(factory.spawned[1].prompt).toContain("- two\n");
	});
	it("refuses no items, items with --file, an empty file and bad --workers", async () => {
		const dir = tempTree("pi-loop-fan-", { "empty.md": "- [x] all done\n" });
		const factory = fakeFactory();
		await expect(fanOutReview(factory, [])).rejects.toThrow("no work items (none given)");
		await expect(fanOutReview(factory, ["a", "--file", "x.md"])).rejects.toThrow("as args or --file, not both");
		await expect(fanOutReview(factory, ["--file", join(dir, "empty.md")])).rejects.toThrow(
			'empty.md has no open "- [ ]" items',
		);
		await expect(fanOutReview(factory, ["--file", join(dir, "gone.md")])).rejects.toThrow("no file at");
		await expect(fanOutReview(factory, ["a", "--workers", "0"])).rejects.toThrow("--workers needs a positive whole");
		expect(factory.spawned).toHaveLength(0);
	});
});

describe("parallel-items", () => {
	const PRD = ["# PRD", "", "- [ ] add alpha", "- [x] set up the repo", "- [ ] add beta", "* [ ] add gamma", ""];
	/** The item a spawn works on: the indented line of its prompt. */
	const itemOf = (options: SpawnOptions) => /^ {2}(.+)$/m.exec(options.prompt)?.[1] ?? "";
	/**
	 * A checklist in a temp dir; factory.exec answered as the shell would for `cat`, and `git status` clean unless
	 * `dirty`; the commit messages of `git add … && git commit` calls are collected.
	 */
	const project = (options: { text?: string; dirty?: boolean } = {}) => {
		const path = join(tempTree("pi-loop-items-", { "PRD.md": options.text ?? PRD.join("\n") }), "PRD.md");
		const commits: string[] = [];
		const exec = (command: string) => {
			const cat = /^cat -- '(.+)'$/.exec(command);
			if (cat) {
				try {
					return { stdout: readFileSync(cat[1], "utf8") };
				} catch {
					return { exitCode: 1, output: `cat: ${cat[1]}: No such file or directory` };
				}
			}
			if (command.startsWith("git status")) return options.dirty ? { stdout: " M PRD.md\n", output: " M PRD.md" } : {};
			if (command.startsWith("git add")) commits.push(/-m '([^']*)'/.exec(command)?.[1] ?? "?");
			return {};
		};
		return { path, commits, exec };
	};
	/** Agents answering after a pause (so a wave's overlap shows), each writing `<item>.js` unless `answer` says more. */
	const agents =
		(answer: (item: string, options: SpawnOptions) => Partial<SpawnResult> = () => ({})) =>
		async (options: SpawnOptions) => {
			await sleep(5);
			return { filesChanged: [`${itemOf(options).replace(/ /g, "-")}.js`], ...answer(itemOf(options), options) };
		};

	it("runs the open items in waves of --parallel at once, merges each in plan order, ticks and commits", async () => {
		const { path, commits, exec } = project();
		const factory = fakeFactory({ exec, spawn: agents() });
		await expect(parallelItems(factory, [path, "--parallel", "2", "--check", "tests"])).resolves.toEqual({
			done: ["add alpha", "add beta", "add gamma"],
			waves: 2,
		});
		expect(factory.events.slice(0, 2).sort()).toEqual(["start:0", "start:1"]);
		expect(factory.events.slice(4)).toEqual(["start:2", "end:2"]);
		expect(factory.spawned.map((s) => [itemOf(s), s.step, s.agent, s.isolation])).toEqual([
			["add alpha", "item 1.1", "item", "worktree"],
			["add beta", "item 2.1", "item", "worktree"],
			["add gamma", "item 3.1", "item", "worktree"],
		]);
		expect(factory.spawned[0].prompt).toContain(`Do not edit ${path}`);
		expect(factory.spawned[0].prompt).not.toContain("add beta");
		expect(factory.merges).toEqual([
			{ branches: ["loop/fake-run/1", "loop/fake-run/2"], options: { check: "tests" } },
			{ branches: ["loop/fake-run/3"], options: { check: "tests" } },
		]);
		expect(readFileSync(path, "utf8")).toBe(
			["# PRD", "", "- [x] add alpha", "- [x] set up the repo", "- [x] add beta", "* [x] add gamma", ""].join("\n"),
		);
		expect(commits).toEqual(["add alpha", "add beta", "add gamma"]);
		expect(factory.executed.filter((c) => c.startsWith("git status"))).toHaveLength(3);
		expect(factory.phases).toEqual(["wave 1: 2 item(s)", "wave 2: 1 item(s)"]);
		expect(factory.state).toMatchObject({
			done: ["add alpha", "add beta", "add gamma"],
			blocked: [],
			waves: [
				{ wave: 1, items: ["add alpha", "add beta"], ticked: ["add alpha", "add beta"], retry: [], leftOpen: [] },
				{ wave: 2, items: ["add gamma"], ticked: ["add gamma"], retry: [], leftOpen: [] },
			],
		});
		expect(JSON.parse(JSON.stringify(factory.state))).toEqual(factory.state);
	});
	it("tries a conflicting item again next wave, ahead of later items, with the reason in its prompt", async () => {
		const { path, commits, exec } = project();
		const factory = fakeFactory({
			exec,
			spawn: agents(),
			merge: (_results, _options, call) =>
				call === 0 ? ["merged", { status: "conflict", detail: "loop/fake-run/2 conflicts with main in lib.js" }] : [],
		});
		await expect(parallelItems(factory, [path])).resolves.toEqual({
			done: ["add alpha", "add beta", "add gamma"],
			waves: 2,
		});
		expect(factory.spawned.map((s) => s.step)).toEqual(["item 1.1", "item 2.1", "item 2.2", "item 3.1"]);
		expect(factory.merges.map((m) => m.branches)).toEqual([
			["loop/fake-run/1", "loop/fake-run/2"],
			["loop/fake-run/3", "loop/fake-run/4"],
		]);
		expect(factory.merges[0].options).toEqual({ check: undefined });
		expect(factory.spawned[1].prompt).not.toContain("earlier attempt");
		expect(factory.spawned[2].prompt).toContain(
			"An earlier attempt at this item did not land: conflict: loop/fake-run/2 conflicts with main in lib.js.",
		);
		expect(commits).toEqual(["add alpha", "add beta", "add gamma"]);
		expect(factory.state.waves).toMatchObject([{ retry: ["add beta"] }, { ticked: ["add beta", "add gamma"] }]);
		expect(factory.logs.some((l) => l.level === "warning" && l.message.includes("item 2 did not land"))).toBe(true);
	});
	it("with --check, merges only items whose check passed in their worktree; others retry with its output", async () => {
		const { path, commits, exec } = project();
		const factory = fakeFactory({
			exec,
			spawn: agents((item, options) => {
				expect(options.check).toBe("tests");
				const failing = item === "add beta" && !options.prompt.includes("did not land");
				return {
					check: {
						command: "npm test",
						passed: !failing,
						exitCode: failing ? 1 : 0,
						timedOut: false,
						output: failing ? "not ok 2 - beta" : "ok",
					},
				};
			}),
		});
		await parallelItems(factory, [path, "--parallel", "3", "--check", "tests"]);
		expect(factory.merges.map((m) => [m.branches, m.options])).toEqual([
			[["loop/fake-run/1", "loop/fake-run/3"], { check: "tests" }],
			[["loop/fake-run/4"], { check: "tests" }],
		]);
		expect(commits).toEqual(["add alpha", "add gamma", "add beta"]);
		expect(factory.spawned[3].prompt).toContain("the check failed in its worktree (npm test):\nnot ok 2 - beta");
	});

	it("leaves an item open after --attempts and throws listing each with its reason", async () => {
		const { path, commits, exec } = project();
		const factory = fakeFactory({
			exec,
			spawn: agents((item) => {
				if (item === "add alpha") return { exitCode: 1, errorMessage: "provider down" };
				if (item === "add gamma") return { filesChanged: [] };
				return {};
			}),
			// beta fails its check the first time.
			merge: (results, _options, call) =>
				results.map((r) => (call === 0 && r.branch === "loop/fake-run/2" ? "check-failed" : "merged")),
		});
		await expect(parallelItems(factory, [path, "--parallel", "3", "--attempts", "2"])).rejects.toThrow(
			`parallel-items: 2 item(s) left open in ${path}: "add alpha": the agent failed: provider down ` +
				'(after 2 attempt(s)); "add gamma": the agent changed nothing (after 2 attempt(s))',
		);
		expect(factory.spawned.map((s) => s.step)).toEqual([
			"item 1.1",
			"item 2.1",
			"item 3.1",
			"item 1.2",
			"item 2.2",
			"item 3.2",
		]);
		// A failed agent's work is not merged; a branch without changes is (that only removes its worktree).
		expect(factory.merges.map((m) => m.branches)).toEqual([
			["loop/fake-run/2", "loop/fake-run/3"],
			["loop/fake-run/5", "loop/fake-run/6"],
		]);
		expect(commits).toEqual(["loop: blocked: add alpha", "add beta", "loop: blocked: add gamma"]);
		const text = readFileSync(path, "utf8");
		expect(text).toContain(
			"- [ ] add alpha <!-- loop: blocked: the agent failed: provider down (after 2 attempt(s)) -->\n",
		);
		expect(text).toContain("- [x] add beta\n");
		expect(text).toContain("* [ ] add gamma <!-- loop: blocked: the agent changed nothing (after 2 attempt(s)) -->\n");
		// A later run skips the items marked blocked.
		const later = fakeFactory({ exec, spawn: agents(() => ({})) });
		await parallelItems(later, [path]);
		expect(later.spawned).toEqual([]);
		expect(factory.state.blocked).toEqual([
			{ item: "add alpha", reason: "the agent failed: provider down (after 2 attempt(s))" },
			{ item: "add gamma", reason: "the agent changed nothing (after 2 attempt(s))" },
		]);
		expect(factory.spawned[4].prompt).toContain("did not land: check-failed.");
	});
	it("does not tick when the checklist has uncommitted changes: the merged item stays open, not retried", async () => {
		const { path, commits, exec } = project({ text: "- [ ] add alpha\n- [ ] add beta\n", dirty: true });
		const factory = fakeFactory({ exec, spawn: agents() });
		await expect(parallelItems(factory, [path])).rejects.toThrow(
			`2 item(s) left open in ${path}: "add alpha": merged, but not ticked: ${path} has uncommitted changes ` +
				'(git status: M PRD.md); "add beta"',
		);
		expect(factory.spawned).toHaveLength(2);
		expect(commits).toEqual([]);
		expect(readFileSync(path, "utf8")).toBe("- [ ] add alpha\n- [ ] add beta\n");
		expect(factory.logs.filter((l) => l.level === "warning")).toHaveLength(2);
	});
	it("ticks only the item's own open line, keeping CRLF line ends and a ticked line of the same text", async () => {
		const text = "- [x] add alpha\r\n- [ ] add alpha\r\n- [ ] add alphabet\r\n";
		const { path, exec } = project({ text });
		const factory = fakeFactory({ exec, spawn: agents() });
		await parallelItems(factory, [path, "--parallel", "1"]);
		expect(factory.spawned.map(itemOf)).toEqual(["add alpha", "add alphabet"]);
		expect(readFileSync(path, "utf8")).toBe("- [x] add alpha\r\n- [x] add alpha\r\n- [x] add alphabet\r\n");
	});
	it("spawns nothing when every item is ticked", async () => {
		const { path, exec } = project({ text: "- [x] one\n- [X] two\n" });
		const factory = fakeFactory({ exec });
		await expect(parallelItems(factory, [path])).resolves.toEqual({ done: [], waves: 0 });
		expect(factory.spawned).toHaveLength(0);
	});
	it("refuses a missing file, no checklist, an open item listed twice and bad flags", async () => {
		const { path, exec } = project({ text: "- [ ] twice\n- [ ] twice\n" });
		const factory = fakeFactory({ exec });
		await expect(parallelItems(factory, [path])).rejects.toThrow('the open item "twice" appears twice');
		const none = project({ text: "# nothing\n- a plain bullet\n" });
		await expect(parallelItems(fakeFactory({ exec: none.exec }), [none.path])).rejects.toThrow(
			'has no "- [ ]" checklist items',
		);
		const gone = `${path}.gone`;
		await expect(parallelItems(factory, [gone])).rejects.toThrow(`cannot read ${gone}: cat: ${gone}: No such file`);
		await expect(parallelItems(factory, ["--parallel", "0"])).rejects.toThrow("--parallel needs a positive whole");
		await expect(parallelItems(factory, ["--attempts", "x"])).rejects.toThrow(
			'--attempts needs a positive whole number, got "x"',
		);
		await expect(parallelItems(factory, ["--check"])).rejects.toThrow("--check needs a check name");
		await expect(parallelItems(factory, ["--bogus"])).rejects.toThrow("unknown flag --bogus");
		await expect(parallelItems(factory, ["a.md", "b.md"])).rejects.toThrow('one checklist file only, got extra "b.md"');
		expect(factory.spawned).toHaveLength(0);
	});
});
