/**
 * End-to-end: every shipped blueprint (blueprints/*.ts) run by name through the real pi CLI in print mode, with
 * the scripted model, on a small node project where it has real work: files fixed on disk, the check passing, or
 * the intended failure; plus what the model was sent.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	BUGGY_LIB,
	type Fixture,
	killAtRequest,
	LIB_FIXED,
	LIB_HALF_FIXED,
	makeFixture,
	readLoopState,
	requests,
	requestTimes,
	runPrint,
	setScript,
} from "../support/harness.ts";
import type { LoggedRequest } from "../support/scripted-model.ts";

const read = (fx: Fixture, path: string) => readFileSync(join(fx.project, path), "utf8");
const reportOf = (fx: Fixture) => read(fx, `.pi/loop/runs/${readLoopState(fx).runId}/report.md`);
/** The first user message of a request: the spawn's prompt. */
const promptOf = (r: LoggedRequest | undefined) => r?.messages.find((m) => m.role === "user")?.text ?? "";
/** The prompts the spawns were given, in order (a spawn's first request; later ones carry tool results). */
const spawnPrompts = (fx: Fixture) =>
	requests(fx)
		.filter((r) => r.messages.filter((m) => m.role !== "user").length === 0)
		.map(promptOf);

/** lib.js with three functions that are all wrong, and its node:test file (`node lib.test.js`). */
const THREE_BROKEN = "exports.one = () => 0;\nexports.two = () => 0;\nexports.three = () => 0;\n";
const THREE_TESTS = [
	'const test = require("node:test");',
	'const assert = require("node:assert");',
	'const lib = require("./lib");',
	'test("one", () => assert.equal(lib.one(), 1));',
	'test("two", () => assert.equal(lib.two(), 2));',
	'test("three", () => assert.equal(lib.three(), 3));',
	"",
].join("\n");
/** The failure line of node:test `name` in a prompt (TAP on node 20, spec on later nodes). */
const failedTest = (name: string) => new RegExp(`^- [\\w-]+: .*\\b${name}$`, "m");

/** An eslint-style linter: every line of src/*.js that declares with `var ` is a no-var error. */
const LINT_JS = [
	'const fs = require("node:fs");',
	"const out = [];",
	"let problems = 0;",
	'for (const name of fs.readdirSync("src").sort()) {',
	'	const hits = fs.readFileSync("src/" + name, "utf8").split("\\n").flatMap((line, i) =>',
	'		/\\bvar /.test(line) ? ["  " + (i + 1) + ":1  error  Unexpected var, use let or const instead  no-var"] : []);',
	'	if (hits.length > 0) out.push("src/" + name, ...hits, "");',
	"	problems += hits.length;",
	"}",
	"if (problems > 0) {",
	'	console.log(out.join("\\n"));',
	'	const plural = problems === 1 ? "" : "s";',
	'	console.log("✖ " + problems + " problem" + plural + " (" + problems + " errors, 0 warnings)");',
	"	process.exit(1);",
	"}",
	'console.log("lint: clean");',
	"",
].join("\n");

const TEST_PACKAGE = JSON.stringify({ name: "sample", private: true, scripts: { test: "node test.js" } });
const LINT_PACKAGE = JSON.stringify({ name: "sample", private: true, scripts: { lint: "node lint.js" } });

function lintFixture(files: Record<string, string>): Fixture {
	return makeFixture({ files: { "package.json": LINT_PACKAGE, "lint.js": LINT_JS, ...files } });
}

describe("shipped blueprints on real projects (print mode)", () => {
	it("lint-fixer: fixes the var declarations one fixer at a time until `npm run lint` passes", async () => {
		const fx = lintFixture({
			"src/a.js": "var a = 1;\nmodule.exports = a;\n",
			"src/b.js": "var b = 2;\nmodule.exports = b;\n",
		});
		setScript(fx, {
			steps: [
				{ edit: { path: "src/a.js", oldText: "var a", newText: "const a" } },
				{ text: "fixed src/a.js" },
				{ edit: { path: "src/b.js", oldText: "var b", newText: "const b" } },
				{ text: "fixed src/b.js" },
			],
		});
		const result = await runPrint(fx, "/loop run lint-fixer -- 3");
		expect(result.code, result.stderr).toBe(0);
		expect(read(fx, "src/a.js")).toBe("const a = 1;\nmodule.exports = a;\n");
		expect(read(fx, "src/b.js")).toBe("const b = 2;\nmodule.exports = b;\n");
		const sent = requests(fx);
		expect(sent).toHaveLength(4);
		expect(sent[0]?.systemPrompt).toContain("You fix lint findings with small, local edits.");
		const [first, second] = spawnPrompts(fx);
		expect(first).toContain("`npm run lint` reports these findings:");
		expect(first).toContain("- eslint: src/a.js: no-var Unexpected var, use let or const instead");
		expect(first).toContain("- eslint: src/b.js: no-var Unexpected var");
		expect(second).not.toContain("src/a.js");
		expect(second).toContain("- eslint: src/b.js: no-var Unexpected var");
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		const b = state.blueprint;
		expect(b.execs.map((e: { command: string; exitCode: number }) => [e.command, e.exitCode])).toEqual([
			["npm run lint", 1],
			["npm run lint", 1],
			["npm run lint", 0],
		]);
		expect(b.spawns.map((s: { filesChanged: string[] }) => s.filesChanged)).toEqual([["src/a.js"], ["src/b.js"]]);
	});

	it("lint-fixer: gives up after its max fixes when lint still fails: exit 1, reason failed", async () => {
		const fx = lintFixture({ "src/a.js": "var a = 1;\n" });
		setScript(fx, { steps: [{ text: "I could not fix it" }] });
		const result = await runPrint(fx, "/loop run lint-fixer -- 1");
		expect(result.code).toBe(1);
		expect(read(fx, "src/a.js")).toBe("var a = 1;\n");
		expect(requests(fx)).toHaveLength(1);
		const state = readLoopState(fx);
		expect(state.reason).toBe("failed");
		expect(state.detail).toContain("lint still fails after 1 fix(es): 1 failure(s) left");
		expect(state.blueprint.execs).toHaveLength(2);
	});

	it("progress-tracking: counts the failing node tests down to zero and tells the agent the history", async () => {
		const fx = makeFixture({ files: { "lib.js": THREE_BROKEN, "lib.test.js": THREE_TESTS } });
		setScript(fx, {
			steps: [
				{
					write: {
						path: "lib.js",
						content: THREE_BROKEN.replace("one = () => 0", "one = () => 1").replace("two = () => 0", "two = () => 2"),
					},
				},
				{ text: "fixed one and two" },
				{ edit: { path: "lib.js", oldText: "three = () => 0", newText: "three = () => 3" } },
				{ text: "fixed three" },
			],
		});
		const result = await runPrint(fx, '/loop run progress-tracking -- "node lib.test.js" --stagnation 2');
		expect(result.code, result.stderr).toBe(0);
		expect(read(fx, "lib.js")).toBe("exports.one = () => 1;\nexports.two = () => 2;\nexports.three = () => 3;\n");
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		expect(state.blueprint.values.progress).toEqual({
			check: "node lib.test.js",
			counts: [3, 1, 0],
			best: 1,
			roundsWithoutDrop: 0,
		});
		const [first, second] = spawnPrompts(fx);
		expect(first).toContain("`node lib.test.js` fails. Failure count per round so far: 3.");
		for (const name of ["one", "two", "three"]) expect(first).toMatch(failedTest(name));
		expect(second).toContain("Failure count per round so far: 3 → 1. The count is at its lowest so far.");
		expect(second).toMatch(failedTest("three"));
		expect(second).not.toMatch(failedTest("two"));
		expect(requests(fx)[0]?.systemPrompt).toContain("You reduce a check's failures step by step.");
		// The report has the phase and the progress the script kept in factory.state.
		const report = reportOf(fx);
		expect(report).toContain("## Phases\n\n1. fixing node lib.test.js\n");
		expect(report).toMatch(/## State\n\n```json\n[^`]*"counts": \[\s*3,\s*1,\s*0\s*\]/);
	});

	it("progress-tracking: stops on stagnation when the fixes do not lower the count: exit 1, reason failed", async () => {
		const fx = lintFixture({ "src/a.js": "var a = 1;\nvar b = 2;\n" });
		setScript(fx, { steps: [], fallback: { text: "tried" } });
		const result = await runPrint(fx, "/loop run progress-tracking -- --stagnation 1");
		expect(result.code).toBe(1);
		const state = readLoopState(fx);
		expect(state.reason).toBe("failed");
		expect(state.detail).toContain("lint: stagnated at 2 failure(s) (best 2) for 1 fix(es)");
		expect(state.blueprint.values.progress).toMatchObject({ counts: [2, 2], roundsWithoutDrop: 1 });
		expect(requests(fx)).toHaveLength(1);
	});

	it("until-tests-pass: one factory.loop over `npm test` fixes lib.js in two iterations", async () => {
		const fx = makeFixture({
			files: { ...BUGGY_LIB, "package.json": TEST_PACKAGE },
		});
		setScript(fx, {
			steps: [
				{ write: { path: "lib.js", content: LIB_HALF_FIXED } },
				{ text: "fixed add" },
				{ write: { path: "lib.js", content: LIB_FIXED } },
				{ text: "fixed mul" },
			],
		});
		const result = await runPrint(fx, "/loop run until-tests-pass -- --max 4");
		expect(result.code, result.stderr).toBe(0);
		expect(read(fx, "lib.js")).toBe(LIB_FIXED);
		const [first, second] = spawnPrompts(fx);
		expect(first).toMatch(/^Make the failing tests pass by fixing the code under test/);
		expect(first).toContain("The check `npm test` exits 1.");
		expect(first).toContain("FAIL add(2, 3) = -1");
		expect(first).toContain("FAIL mul(2, 3) = 5");
		expect(second).not.toContain("FAIL add");
		expect(second).toContain("FAIL mul(2, 3) = 5");
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		expect(state.blueprint.metrics).toMatchObject({ iterations: 2 });
		expect(state.blueprint.spawns.map((s: { step: number }) => s.step)).toEqual([1, 2]);
	});

	it("until-tests-pass: ends failed when the tests never pass within --max: exit 1, reason failed", async () => {
		const fx = makeFixture({
			files: { ...BUGGY_LIB, "package.json": TEST_PACKAGE },
		});
		setScript(fx, { steps: [{ write: { path: "lib.js", content: LIB_HALF_FIXED } }, { text: "fixed add" }] });
		const result = await runPrint(fx, "/loop run until-tests-pass -- --max 1 fix lib.js");
		expect(result.code).toBe(1);
		expect(read(fx, "lib.js")).toBe(LIB_HALF_FIXED);
		expect(spawnPrompts(fx)[0]).toMatch(/^fix lib\.js\n/);
		const state = readLoopState(fx);
		expect(state.reason).toBe("failed");
		expect(state.detail).toContain("tests still failing: max-iterations after 1 iteration(s)");
	});

	it("prd-tasks: works the PRD's open items one agent each; the ticked file is the progress", async () => {
		const prd = "# PRD\n\n- [ ] add greet.js\n- [x] set up the repo\n- [ ] add bye.js\n";
		const tick = (text: string, item: string) => text.replace(`- [ ] ${item}`, `- [x] ${item}`);
		const afterFirst = tick(prd, "add greet.js");
		const spec = "# Greeting\n\ngreet.js exports greet(name), which returns hi and the name.\n";
		const fx = makeFixture({ files: { "PRD.md": prd, "specs/greeting.md": spec } });
		setScript(fx, {
			steps: [
				{
					writes: [
						{ path: "greet.js", content: 'exports.greet = (n) => "hi " + n;\n' },
						{ path: "PRD.md", content: afterFirst },
					],
				},
				{ text: "greet.js done" },
				{
					writes: [
						{ path: "bye.js", content: 'exports.bye = (n) => "bye " + n;\n' },
						{ path: "PRD.md", content: tick(afterFirst, "add bye.js") },
					],
				},
				{ text: "bye.js done" },
			],
		});
		const result = await runPrint(fx, "/loop run prd-tasks");
		expect(result.code, result.stderr).toBe(0);
		expect(read(fx, "PRD.md")).not.toContain("- [ ]");
		expect(existsSync(join(fx.project, "greet.js"))).toBe(true);
		expect(existsSync(join(fx.project, "bye.js"))).toBe(true);
		const [first, second] = spawnPrompts(fx);
		expect(first).toContain("Implement this item from PRD.md:\n\n  add greet.js\n");
		expect(first).toContain("Already done:\n- set up the repo");
		// The item's text hydrates the prompt: the spec about greet.js comes first.
		expect(first).toMatch(/^# Context for this task/);
		expect(first).toContain("greet.js exports greet(name), which returns hi and the name.");
		expect(second).toContain("Implement this item from PRD.md:\n\n  add bye.js\n");
		expect(second).toContain("Already done:\n- add greet.js\n- set up the repo");
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		expect(state.blueprint.spawns.map((s: { step: string }) => s.step)).toEqual(["item 1.1", "item 3.1"]);
		expect(state.blueprint.phases).toEqual(["add greet.js", "add bye.js"]);
	});

	it("prd-tasks: an item the agent leaves open after its attempts stops the run: exit 1, reason failed", async () => {
		const prd = "# PRD\n\n- [ ] add greet.js\n- [ ] add bye.js\n";
		const fx = makeFixture({ files: { "PRD.md": prd } });
		setScript(fx, { steps: [], fallback: { text: "could not do it" } });
		const result = await runPrint(fx, "/loop run prd-tasks -- PRD.md --attempts 2");
		expect(result.code).toBe(1);
		expect(read(fx, "PRD.md")).toBe(prd);
		expect(spawnPrompts(fx)).toHaveLength(2);
		expect(spawnPrompts(fx).every((p) => p.includes("  add greet.js\n"))).toBe(true);
		const state = readLoopState(fx);
		expect(state.reason).toBe("failed");
		expect(state.detail).toContain('prd-tasks: "add greet.js" still open after 2 attempt(s)');
	});

	it("safety-checks: the stagnation brake stops a fixer that leaves the same failure: exit 1, stoppedBy", async () => {
		const fx = makeFixture({ files: { ...BUGGY_LIB, "package.json": TEST_PACKAGE } });
		setScript(fx, { steps: [], fallback: { text: "looked at it" } });
		const result = await runPrint(fx, "/loop run safety-checks -- --stagnation 2");
		expect(result.code).toBe(1);
		const state = readLoopState(fx);
		expect(state.reason).toBe("failed");
		expect(state.detail).toContain("safety-checks stopped by stagnation: the same failure 3 checks in a row");
		expect(state.blueprint.values).toEqual({ stoppedBy: "stagnation" });
		expect(state.blueprint.execs.map((e: { command: string }) => e.command)).toEqual([
			"npm test",
			"npm test",
			"npm test",
		]);
		const [first, second] = spawnPrompts(fx);
		expect(first).toMatch(/^`npm test` fails\.\n/);
		expect(first).toContain("FAIL add(2, 3) = -1");
		expect(second).toMatch(/^`npm test` fails, unchanged for 1 attempt\(s\): change approach\./);
	});

	it("safety-checks: the budget brake stops before a spawn the money left would not cover", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [{ write: { path: "lib.js", content: LIB_HALF_FIXED } }, { text: "fixed add" }],
			costPerCall: 0.3,
		});
		const result = await runPrint(fx, '/loop run safety-checks --max-cost 1 -- "node test.js" --reserve 0.5');
		expect(result.code).toBe(1);
		expect(requests(fx)).toHaveLength(2);
		const state = readLoopState(fx);
		expect(state.reason).toBe("failed");
		expect(state.detail).toContain("safety-checks stopped by budget: $0.40 left, reserve $0.50");
		expect(state.blueprint.values).toEqual({ stoppedBy: "budget" });
		expect(state.blueprint.execs.map((e: { failures: number }) => e.failures)).toEqual([2, 1]);
		expect(read(fx, "lib.js")).toBe(LIB_HALF_FIXED);
	});

	it("safety-checks: the agent-failures brake stops after K failed spawns in a row", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [], fallback: { error: "scripted model refuses" } });
		const result = await runPrint(fx, '/loop run safety-checks -- "node test.js" --failures 2');
		expect(result.code).toBe(1);
		const state = readLoopState(fx);
		expect(state.reason).toBe("failed");
		expect(state.detail).toContain("safety-checks stopped by agent failures: 2 failed spawns in a row");
		expect(state.blueprint.spawns.map((s: { exitCode: number }) => s.exitCode)).toEqual([1, 1]);
		expect(state.blueprint.spawns[0].error).toContain("scripted model refuses");
	});

	it("per-module: an inner loop per src/ module, each agent told to stay inside it, until both pass", async () => {
		const moduleTest = (name: string) =>
			`const v = require("./lib").v();\nif (v !== 1) { console.log("FAIL ${name} v = " + v); process.exit(1); }\n`;
		const fx = makeFixture({
			files: {
				"src/alpha/lib.js": "exports.v = () => 0;\n",
				"src/alpha/test.js": moduleTest("alpha"),
				"src/beta/lib.js": "exports.v = () => 2;\n",
				"src/beta/test.js": moduleTest("beta"),
			},
		});
		setScript(fx, {
			steps: [
				{ write: { path: "src/alpha/lib.js", content: "exports.v = () => 1;\n" } },
				{ text: "alpha fixed" },
				{ write: { path: "src/beta/lib.js", content: "exports.v = () => 1;\n" } },
				{ text: "beta fixed" },
			],
		});
		const result = await runPrint(fx, '/loop run per-module -- --check "node {dir}/test.js" --max 2');
		expect(result.code, result.stderr).toBe(0);
		expect(read(fx, "src/alpha/lib.js")).toBe("exports.v = () => 1;\n");
		expect(read(fx, "src/beta/lib.js")).toBe("exports.v = () => 1;\n");
		const [first, second] = spawnPrompts(fx);
		expect(first).toContain("Work only inside src/alpha. `node src/alpha/test.js` fails:");
		expect(first).toContain("FAIL alpha v = 0");
		expect(second).toContain("Work only inside src/beta. `node src/beta/test.js` fails:");
		expect(second).toContain("FAIL beta v = 2");
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		expect(state.blueprint.values).toEqual({ modules: { "src/alpha": "passed", "src/beta": "passed" } });
		expect(reportOf(fx)).toContain("## Phases\n\n1. module 1/2: src/alpha\n2. module 2/2: src/beta\n");
		expect(state.blueprint.spawns.map((s: { step: string }) => s.step)).toEqual(["src/alpha#1", "src/beta#1"]);
	});

	it("per-module: a module that does not pass is reported while the next one still runs: exit 1", async () => {
		const fx = makeFixture({
			files: {
				"src/alpha/lib.js": "exports.v = () => 0;\n",
				"src/beta/lib.js": "exports.v = () => 0;\n",
				"check.js": 'process.exit(require("./" + process.argv[2] + "/lib").v() === 1 ? 0 : 1);\n',
			},
		});
		setScript(fx, {
			steps: [
				{ text: "alpha is fine as it is" },
				{ write: { path: "src/beta/lib.js", content: "exports.v = () => 1;\n" } },
				{ text: "beta fixed" },
			],
		});
		const result = await runPrint(
			fx,
			'/loop run per-module -- src/alpha src/beta --check "node check.js {dir}" --max 1',
		);
		expect(result.code).toBe(1);
		expect(read(fx, "src/alpha/lib.js")).toBe("exports.v = () => 0;\n");
		expect(read(fx, "src/beta/lib.js")).toBe("exports.v = () => 1;\n");
		const state = readLoopState(fx);
		expect(state.reason).toBe("failed");
		expect(state.detail).toContain("per-module: 1/2 module(s) not passing: src/alpha");
		expect(state.blueprint.values).toEqual({ modules: { "src/alpha": "max-iterations", "src/beta": "passed" } });
	});

	it("fan-out-review: workers run at once on their own items, then a review-role spawn judges them", async () => {
		// The review role has a model of its own: the review spawn must run on it, the workers on implement's.
		const roles = { implement: "faux/impl-m", review: "faux/review-m" };
		const fx = makeFixture({ files: { "README.md": "# items\n", ".pi/loop.json": JSON.stringify({ roles }) } });
		fx.env.LOOP_FAUX_MODELS = "faux-1,impl-m,review-m";
		setScript(fx, {
			steps: [],
			routes: [
				{ match: "Several workers did the items", steps: [{ text: "PASS: a.txt, b.txt and c.txt are there" }] },
				{
					match: "- add a.txt",
					steps: [
						{
							writes: [
								{ path: "a.txt", content: "a\n" },
								{ path: "c.txt", content: "c\n" },
							],
							delayMs: 1200,
						},
						{ text: "wrote a.txt and c.txt" },
					],
				},
				{
					match: "- add b.txt",
					steps: [{ write: { path: "b.txt", content: "b\n" }, delayMs: 1200 }, { text: "wrote b.txt" }],
				},
			],
		});
		const result = await runPrint(fx, '/loop run fan-out-review -- "add a.txt" "add b.txt" "add c.txt" --workers 2');
		expect(result.code, result.stderr).toBe(0);
		for (const name of ["a", "b", "c"]) expect(read(fx, `${name}.txt`)).toBe(`${name}\n`);
		const sent = requests(fx);
		expect(sent).toHaveLength(5);
		const firstOf = (route: string) => requestTimes(fx).find((t) => t.route === route);
		const w1 = firstOf("- add a.txt");
		const w2 = firstOf("- add b.txt");
		// The workers overlap: each one's first request started before the other's was answered.
		expect(w2?.startedAt).toBeLessThan(w1?.endedAt as number);
		expect(w1?.startedAt).toBeLessThan(w2?.endedAt as number);
		const workerPrompt = promptOf(sent.find((r) => r.route === "- add a.txt"));
		expect(workerPrompt).toContain("- add a.txt\n- add c.txt\n");
		expect(workerPrompt).not.toContain("add b.txt");
		const review = sent.filter((r) => r.route === "Several workers did the items");
		expect(review).toHaveLength(1);
		const reviewPrompt = promptOf(review[0]);
		expect(reviewPrompt).toContain(
			"## Worker 1\nItems: add a.txt; add c.txt\nFiles changed: a.txt, c.txt\n\nwrote a.txt and c.txt",
		);
		expect(reviewPrompt).toContain("## Worker 2\nItems: add b.txt\nFiles changed: b.txt\n\nwrote b.txt");
		expect(review[0]?.model).toBe("review-m");
		expect(sent.filter((r) => r.route !== review[0]?.route).map((r) => r.model)).toEqual(Array(4).fill("impl-m"));
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		const spawns = state.blueprint.spawns as { agent: string; step: string; role: string; model: string }[];
		expect(spawns.map((s) => [s.step, s.agent, s.role, s.model]).sort()).toEqual([
			["review", "reviewer", "review", "faux/review-m"],
			["worker 1", "worker", "implement", "faux/impl-m"],
			["worker 2", "worker", "implement", "faux/impl-m"],
		]);
		expect(spawns.at(-1)?.step).toBe("review");
	});

	it("fan-out-review: a review that lists problems ends the run failed with the review's words", async () => {
		const fx = makeFixture({ files: { "README.md": "# items\n" } });
		setScript(fx, {
			steps: [],
			routes: [
				{ match: "Several workers did the items", steps: [{ text: "b.txt is empty: it should say b" }] },
				{ match: "- add a.txt", steps: [{ write: { path: "a.txt", content: "a\n" } }, { text: "wrote a.txt" }] },
				{ match: "- add b.txt", steps: [{ write: { path: "b.txt", content: "" } }, { text: "wrote b.txt" }] },
			],
		});
		const result = await runPrint(fx, '/loop run fan-out-review -- "add a.txt" "add b.txt"');
		expect(result.code).toBe(1);
		const state = readLoopState(fx);
		expect(state.reason).toBe("failed");
		expect(state.detail).toContain("fan-out-review: review did not pass:\nb.txt is empty: it should say b");
		expect(state.blueprint.spawns).toHaveLength(3);
	});

	it("fan-out-review: resumed after a kill during the review, the workers replay and only the review runs", async () => {
		const fx = makeFixture({ files: { "README.md": "# items\n" } });
		setScript(fx, {
			steps: [],
			routes: [
				{ match: "Several workers did the items", steps: [{ hang: true }, { text: "PASS both there" }] },
				{ match: "- add a.txt", steps: [{ write: { path: "a.txt", content: "a\n" } }, { text: "wrote a.txt" }] },
				{ match: "- add b.txt", steps: [{ write: { path: "b.txt", content: "b\n" } }, { text: "wrote b.txt" }] },
			],
		});
		await killAtRequest(fx, '/loop run fan-out-review -- "add a.txt" "add b.txt"', 5, "the review's model call");
		const resumed = await runPrint(fx, "/loop resume");
		expect(resumed.code, resumed.stderr).toBe(0);
		const sent = requests(fx);
		expect(sent).toHaveLength(6);
		// The live review got the replayed workers' answers.
		expect(sent[5]?.route).toBe("Several workers did the items");
		expect(promptOf(sent[5])).toContain("Files changed: a.txt\n\nwrote a.txt");
		expect(promptOf(sent[5])).toContain("Files changed: b.txt\n\nwrote b.txt");
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		expect(state.blueprint.attempts).toBe(2);
		const spawns = state.blueprint.spawns as { step: string; replayed?: boolean; role: string }[];
		expect(spawns.map((s) => [s.step, s.replayed === true, s.role])).toEqual([
			["worker 1", true, "implement"],
			["worker 2", true, "implement"],
			["review", false, "review"],
		]);
	});
});
