/**
 * End-to-end: `/loop run <blueprint>` on the real pi CLI (print and RPC modes)
 * with the scripted model: seed-style scripts, parallel spawns, resume from the
 * journal after a kill, limits, and load errors.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
	BUGGY_LIB,
	events,
	FAILING_TESTS,
	killAtRequest,
	LIB_FIXED,
	LIB_HALF_FIXED,
	makeFixture,
	type RequestTime,
	readLoopState,
	requests,
	requestTimes,
	runPrint,
	setScript,
	tsFixture,
	waitFor,
} from "../support/harness.ts";
import { RpcClient } from "../support/rpc-client.ts";

function blueprint(fx: { project: string }, name: string, source: string): string {
	const dir = join(fx.project, ".pi", "blueprints");
	mkdirSync(dir, { recursive: true });
	writeFileSync(join(dir, name), source);
	return `.pi/blueprints/${name}`;
}

/** Written the way the seed writes loops: global factory, top-level await, spawnSync, a TS interface. */
const SEED_STYLE = `import { spawnSync } from "node:child_process";

interface Progress { attempts: number; lastOutput: string }
const progress: Progress = { attempts: 0, lastOutput: "" };

while (progress.attempts < 5) {
	const run = spawnSync("node", ["test.js"], { cwd: process.cwd(), encoding: "utf-8" });
	if (run.status === 0) {
		factory.observe.log("info", "tests pass", { attempts: progress.attempts });
		break;
	}
	progress.attempts++;
	progress.lastOutput = run.stdout;
	const result = await factory.spawn({
		agent: "fixer",
		systemPrompt: "You fix failing tests, one at a time.",
		prompt: "Fix the failing tests. Output:\\n" + run.stdout,
		model: "anthropic/claude-sonnet-4-6",
		step: progress.attempts,
	});
	if (result.exitCode !== 0) {
		factory.observe.log("error", "agent failed", { error: result.errorMessage });
		break;
	}
}
factory.state.attempts = progress.attempts;
`;

describe("/loop run (print mode)", () => {
	it("runs a seed-style script unchanged: it fixes the project and exits 0", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [
				{ write: { path: "lib.js", content: LIB_HALF_FIXED } },
				{ text: "fixed add" },
				{ write: { path: "lib.js", content: LIB_FIXED } },
				{ text: "fixed mul" },
			],
			costPerCall: 0.01,
		});
		const file = blueprint(fx, "seed.ts", SEED_STYLE);
		const result = await runPrint(fx, `/loop run ${file}`);
		expect(result.code, result.stderr).toBe(0);
		expect(readFileSync(join(fx.project, "lib.js"), "utf8")).toBe(LIB_FIXED);
		// The model the script names has no key here: one warning, then the session's model.
		expect(result.stderr.match(/model "anthropic\/claude-sonnet-4-6" skipped/g)?.length).toBe(1);
		const sent = requests(fx);
		expect(sent).toHaveLength(4);
		expect(sent[0]?.systemPrompt).toContain("You fix failing tests, one at a time.");
		expect(sent[0]?.messages[0]?.text).toContain("FAIL add(2, 3)");
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		expect(state.blueprint.values).toEqual({ attempts: 2 });
		expect(state.blueprint.spawns.map((s: { filesChanged: string[] }) => s.filesChanged)).toEqual([
			["lib.js"],
			["lib.js"],
		]);
		const ev = events(fx);
		expect(ev.filter((e) => e.type === "spawn_end").map((e) => e.cost)).toEqual([0.02, 0.02]);
		expect(ev.at(-1)).toMatchObject({ type: "run_end", reason: "completed", iterations: 2 });
		expect(ev.some((e) => e.type === "log" && e.message === "tests pass")).toBe(true);
		const report = readFileSync(join(fx.project, ".pi", "loop", "runs", state.runId, "report.md"), "utf8");
		expect(report).toContain("| 1 | fixer | 1 | faux/faux-1 |");
		expect(report).toContain("## Cost by agent");
	});

	it("resumes a killed run: finished spawns replay from the journal, only the third calls the model", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [{ text: "one done" }, { text: "two done" }, { hang: true }, { text: "three done" }],
			costPerCall: 0.5,
		});
		const file = blueprint(
			fx,
			"three.ts",
			[
				"const texts: string[] = [];",
				'for (const name of ["one", "two", "three"]) {',
				'	const r = await factory.spawn({ agent: name, prompt: "do step " + name });',
				"	texts.push(r.text);",
				"}",
				'const listed = await factory.exec("ls");',
				"factory.state.texts = texts;",
				"factory.state.listed = listed.exitCode;",
			].join("\n"),
		);
		await killAtRequest(fx, `/loop run ${file}`, 3, "the third spawn's model call");

		const resumed = await runPrint(fx, "/loop resume");
		expect(resumed.code, resumed.stderr).toBe(0);
		const sent = requests(fx);
		expect(sent).toHaveLength(4);
		expect(sent[3]?.messages[0]?.text).toBe("do step three");
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		expect(state.blueprint.attempts).toBe(2);
		expect(state.blueprint.values).toEqual({ texts: ["one done", "two done", "three done"], listed: 0 });
		expect(state.blueprint.spawns.map((s: { replayed?: boolean }) => s.replayed === true)).toEqual([true, true, false]);
		const ev = events(fx);
		expect(ev.find((e) => e.type === "replayed")).toMatchObject({ steps: 2, position: 2 });
		expect(ev.at(-1)).toMatchObject({ type: "run_end", reason: "completed" });
		// Paid once: the first attempt's two spawns are carried over ($0.50 each), the live third adds its own.
		expect(state.blueprint.earlier).toMatchObject({ spawns: 2, usage: { cost: 1 } });
		expect(resumed.stderr).toMatch(/3 spawns \(2 replayed\) · 1 command · [\d.]+s · \$1\.50/);
		expect(resumed.stderr).toContain("replayed 2 finished steps from the journal");
	});

	it("ends with reason budget when a spawn goes past --max-spawns, and exits 1", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [], fallback: { text: "ok" } });
		const file = blueprint(
			fx,
			"many.ts",
			'for (let i = 0; i < 5; i++) await factory.spawn({ agent: "w", prompt: "task " + i, step: i });\n',
		);
		const result = await runPrint(fx, `/loop run ${file} --max-spawns 2`);
		expect(result.code).toBe(1);
		expect(requests(fx)).toHaveLength(2);
		const state = readLoopState(fx);
		expect(state.reason).toBe("budget");
		expect(state.detail).toContain("--max-spawns 2 reached");
		expect(result.stderr).toContain("ended: budget");
	});

	it("ends with reason budget past --max-cost", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [], fallback: { text: "ok" }, costPerCall: 0.4 });
		const file = blueprint(fx, "costly.ts", 'while (true) await factory.spawn({ prompt: "again" });\n');
		const result = await runPrint(fx, `/loop run ${file} --max-cost 1`);
		expect(result.code).toBe(1);
		expect(requests(fx)).toHaveLength(3);
		expect(readLoopState(fx)).toMatchObject({ reason: "budget" });
	});

	it("a syntax error is a usage error naming file:line, exit 2, nothing runs", async () => {
		const fx = makeFixture();
		const file = blueprint(fx, "broken.ts", "const ok = 1;\nconst bad: number = ;\n");
		const result = await runPrint(fx, `/loop run ${file}`);
		expect(result.code).toBe(2);
		expect(result.stderr).toMatch(/broken\.ts:2:\d+: syntax error/);
		expect(requests(fx)).toHaveLength(0);
	});

	it("a script that throws ends failed with where it threw, exit 1", async () => {
		const fx = makeFixture();
		const file = blueprint(fx, "throws.ts", 'const n: number = 1;\n\nthrow new Error("no luck " + n);\n');
		const result = await runPrint(fx, `/loop run ${file}`);
		expect(result.code).toBe(1);
		const state = readLoopState(fx);
		expect(state.reason).toBe("failed");
		expect(state.detail).toMatch(/no luck 1 \(at .*throws\.ts:3:\d+\)/);
	});

	it("a spawn's writes get on-write diagnostics; on-done gates stay quiet (the script runs checks)", async () => {
		const fx = tsFixture({ tests: FAILING_TESTS });
		setScript(fx, {
			steps: [
				{
					write: {
						path: "src/use.ts",
						content: 'import { sum } from "./math.js";\nexport const t: string = sum(1, 2);\n',
					},
				},
				{ text: "wrote it" },
			],
		});
		const file = blueprint(fx, "write.ts", 'await factory.spawn({ agent: "writer", prompt: "write src/use.ts" });\n');
		const result = await runPrint(fx, `/loop run ${file}`);
		expect(result.code, result.stderr).toBe(0);
		const sent = requests(fx);
		expect(sent).toHaveLength(2);
		const toolResult = sent[1]?.messages.find((m) => m.role === "toolResult")?.text ?? "";
		expect(toolResult).toContain("[gates]");
		expect(toolResult).toMatch(/src\/use\.ts:2:14 error TS2322/);
		expect(result.stderr).not.toMatch(/gates: .*tests/);
	});

	it('gates: "all" runs the on-done gates on a spawn\'s changes and sends the fix round into its session', async () => {
		const fx = tsFixture({ tests: FAILING_TESTS });
		setScript(fx, {
			steps: [
				{ write: { path: "src/ok.ts", content: "export const one = 1;\n" } },
				{ text: "wrote it" },
				{ write: { path: "test.js", content: 'console.log("all passed");\n' } },
				{ text: "tests fixed" },
			],
		});
		const file = blueprint(
			fx,
			"gated.ts",
			'const r = await factory.spawn({ prompt: "add src/ok.ts", gates: "all" });\nfactory.state.text = r.text;\n',
		);
		const result = await runPrint(fx, `/loop run ${file}`);
		expect(result.code, result.stderr).toBe(0);
		const sent = requests(fx);
		expect(sent).toHaveLength(4);
		const fixRound = sent[2]?.messages.filter((m) => m.role === "user").at(-1)?.text ?? "";
		expect(fixRound).toContain("fix round 1 of 2");
		expect(fixRound).toContain("1 failed: sum");
		const state = readLoopState(fx);
		expect(state.blueprint.values).toEqual({ text: "tests fixed" });
		expect(state.blueprint.spawns[0]).toMatchObject({ exitCode: 0, filesChanged: ["src/ok.ts", "test.js"] });
		expect(result.stderr).toMatch(/gates ✗ tests/);
		expect(result.stderr).toMatch(/gates ✓ tests/);
	});

	it("an agent profile gives a spawn its model and instructions; factory.hydrate brings the specs", async () => {
		const fx = makeFixture({
			files: {
				...BUGGY_LIB,
				".pi/agents/critic.md": "---\nmodel: faux/faux-2\ntools: read, bash\n---\nYou are a strict critic.\n",
				"specs/pricing.md": "# Pricing\n\nDiscounts never exceed thirty percent of the list price.\n",
			},
		});
		fx.env.LOOP_FAUX_MODELS = "faux-1,faux-2";
		setScript(fx, { steps: [], fallback: { text: "noted" } });
		const file = blueprint(
			fx,
			"profile.ts",
			[
				'const context = await factory.hydrate("pricing discounts", { budget: 2000 });',
				'factory.state.hasSpec = context.includes("thirty percent");',
				'const r = await factory.spawn({ agent: "critic", prompt: "judge the pricing code" });',
				"factory.state.model = r.model;",
			].join("\n"),
		);
		const result = await runPrint(fx, `/loop run ${file}`);
		expect(result.code, result.stderr).toBe(0);
		expect(readLoopState(fx).blueprint.values).toEqual({ hasSpec: true, model: "faux/faux-2" });
		const [sent] = requests(fx);
		expect(sent?.model).toBe("faux-2");
		expect(sent?.systemPrompt).toContain("You are a strict critic.");
	});

	it("--strict-models makes an unusable model an error; --timeout ends the run timeout", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ hang: true }], fallback: { text: "ok" } });
		const strict = blueprint(fx, "strict.ts", 'await factory.spawn({ prompt: "x", model: "nowhere/model-9" });\n');
		const refused = await runPrint(fx, `/loop run ${strict} --strict-models`);
		expect(refused.code).toBe(1);
		expect(readLoopState(fx).detail).toContain('model "nowhere/model-9": unknown model (--strict-models)');
		expect(requests(fx)).toHaveLength(0);
		const slow = blueprint(fx, "slow.ts", 'await factory.spawn({ prompt: "hang here" });\n');
		const timedOut = await runPrint(fx, `/loop run ${slow} --timeout 2s`);
		expect(timedOut.code).toBe(1);
		expect(readLoopState(fx)).toMatchObject({ reason: "timeout" });
		expect(readLoopState(fx).blueprint.spawns[0]).toMatchObject({ exitCode: 1, stopReason: "aborted" });
	});

	it("lists the blueprints without a name, and names the unknown one", async () => {
		const fx = makeFixture();
		blueprint(fx, "mine.ts", "/** My own blueprint. */\nexport default async function () {}\n");
		const listing = await runPrint(fx, "/loop run");
		expect(listing.code, listing.stderr).toBe(0);
		expect(listing.stderr).toMatch(/mine\s+\[project\] My own blueprint\./);
		expect(listing.stderr).toContain("lint-fixer");
		const missing = await runPrint(fx, "/loop run nope");
		expect(missing.code).toBe(2);
		expect(missing.stderr).toContain('no blueprint "nope"');
	});
});

describe("/loop run over RPC", () => {
	let client: RpcClient | undefined;
	afterEach(async () => {
		await client?.close();
		client = undefined;
	});

	it("runs two spawns under Promise.all at the same time, each with its own answer, and reports progress", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [],
			routes: [
				{ match: "task alpha", steps: [{ text: "alpha answered", delayMs: 1200 }] },
				{ match: "task beta", steps: [{ text: "beta answered", delayMs: 1200 }] },
			],
		});
		const file = blueprint(
			fx,
			"fan-out.mjs",
			[
				"export default async function (factory) {",
				"\tconst [a, b] = await Promise.all([",
				'\t\tfactory.spawn({ agent: "alpha", prompt: "task alpha" }),',
				'\t\tfactory.spawn({ agent: "beta", prompt: "task beta" }),',
				"\t]);",
				"\tfactory.state.answers = [a.text, b.text];",
				'\tfactory.observe.log("warning", "both done");',
				"}",
			].join("\n"),
		);
		client = new RpcClient(fx);
		const response = await client.response(client.prompt(`/loop run ${file}`));
		expect(response.success).toBe(true);
		const times = requestTimes(fx);
		expect(times).toHaveLength(2);
		const [first, second] = times as [RequestTime, RequestTime];
		// Overlap: the second request started before the first one answered.
		expect(second.startedAt).toBeLessThan(first.endedAt as number);
		expect(readLoopState(fx).blueprint.values).toEqual({ answers: ["alpha answered", "beta answered"] });
		const widgets = client.uiRequests("setWidget").filter((r) => r.widgetKey === "loop" && r.widgetLines);
		expect(widgets.some((w) => w.widgetLines.join("\n").includes("2 running"))).toBe(true);
		expect(client.uiRequests("notify").map((n) => n.message)).toContain("both done");
		expect(client.loopMessages().at(-1)).toMatch(/✓ blueprint .*fan-out\.mjs ended: completed/);
		// The user's session is untouched: no model call went through it.
		expect(requests(fx).every((r) => r.messages[0]?.text.startsWith("task "))).toBe(true);
	});

	it("/loop stop lets the running spawn finish and refuses the next step; status names the blueprint", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ text: "first done", delayMs: 1500 }], fallback: { text: "should not run" } });
		const file = blueprint(
			fx,
			"two-steps.ts",
			'await factory.spawn({ prompt: "first" });\nawait factory.spawn({ prompt: "second" });\n',
		);
		client = new RpcClient(fx);
		const run = client.prompt(`/loop run ${file}`);
		await waitFor(() => requests(fx).length === 1, 20_000, "the first spawn's model call");
		await client.response(client.prompt("/loop status"));
		expect(
			client
				.uiRequests("notify")
				.map((n) => n.message)
				.join("\n"),
		).toMatch(/blueprint: .*two-steps\.ts/);
		await client.response(client.prompt("/loop stop"));
		await client.response(run);
		expect(requests(fx)).toHaveLength(1);
		const state = readLoopState(fx);
		expect(state).toMatchObject({ reason: "stopped" });
		expect(state.blueprint.spawns).toHaveLength(1);
		expect(state.blueprint.spawns[0]).toMatchObject({ exitCode: 0 });
	});
});

describe("/loop run with isolated spawns", () => {
	const cacheOf = (fx: { root: string }) => join(fx.root, "cache");

	it("two parallel spawns in their own worktrees both land; the user's uncommitted work survives", async () => {
		const fx = makeFixture({ files: { "notes.md": "mine\n", "lib.js": "exports.a = 1;\n" } });
		fx.env.XDG_CACHE_HOME = cacheOf(fx);
		writeFileSync(join(fx.project, "notes.md"), "mine, not committed\n");
		setScript(fx, {
			steps: [],
			routes: [
				{
					match: "write alpha",
					steps: [{ write: { path: "alpha.js", content: "exports.alpha = 1;\n" }, delayMs: 300 }, { text: "alpha" }],
				},
				{
					match: "write beta",
					steps: [{ write: { path: "beta.js", content: "exports.beta = 2;\n" }, delayMs: 300 }, { text: "beta" }],
				},
			],
		});
		const file = blueprint(
			fx,
			"iso.ts",
			[
				"const results = await Promise.all([",
				'\tfactory.spawn({ agent: "a", prompt: "write alpha", isolation: "worktree" }),',
				'\tfactory.spawn({ agent: "b", prompt: "write beta", isolation: "worktree" }),',
				"]);",
				"factory.state.branches = results.map((r) => r.branch);",
				"factory.state.files = results.map((r) => r.filesChanged);",
				'const merged = await factory.merge(results, { check: "test -f alpha.js" });',
				"factory.state.merged = merged.map((m) => m.status);",
			].join("\n"),
		);
		const result = await runPrint(fx, `/loop run ${file}`);
		expect(result.code, result.stderr).toBe(0);
		const values = readLoopState(fx).blueprint.values;
		expect(values.merged).toEqual(["merged", "merged"]);
		expect(values.files).toEqual([["alpha.js"], ["beta.js"]]);
		expect(values.branches[0]).toMatch(/^loop\/.+\/1$/);
		expect(readFileSync(join(fx.project, "alpha.js"), "utf8")).toBe("exports.alpha = 1;\n");
		expect(readFileSync(join(fx.project, "beta.js"), "utf8")).toBe("exports.beta = 2;\n");
		expect(readFileSync(join(fx.project, "notes.md"), "utf8")).toBe("mine, not committed\n");
		const git = (...args: string[]) =>
			execFileSync("git", args, { cwd: fx.project, env: fx.env, encoding: "utf8" }).trim();
		expect(git("status", "--porcelain", "--", "notes.md", "alpha.js", "beta.js")).toBe("M notes.md");
		expect(git("worktree", "list")).not.toContain("pi-loop-factory");
		expect(git("branch", "--list", "loop/*")).toBe("");
		expect(existsSync(join(fx.project, ".pi", "loop", "worktrees.json"))).toBe(true);
	});

	it("a conflicting branch is kept and listed; /loop worktrees prune removes only merged ones", async () => {
		const fx = makeFixture({ files: { "lib.js": "exports.a = 1;\n" } });
		fx.env.XDG_CACHE_HOME = cacheOf(fx);
		setScript(fx, {
			steps: [],
			routes: [
				{
					match: "version one",
					steps: [{ write: { path: "lib.js", content: "exports.a = 'one';\n" } }, { text: "1" }],
				},
				{
					match: "version two",
					steps: [{ write: { path: "lib.js", content: "exports.a = 'two';\n" } }, { text: "2" }],
				},
			],
		});
		const file = blueprint(
			fx,
			"clash.ts",
			[
				"const results = await Promise.all([",
				'\tfactory.spawn({ prompt: "version one", isolation: "worktree" }),',
				'\tfactory.spawn({ prompt: "version two", isolation: "worktree" }),',
				"]);",
				"const merged = await factory.merge(results);",
				"factory.state.merged = merged.map((m) => [m.status, m.files ?? []]);",
			].join("\n"),
		);
		const result = await runPrint(fx, `/loop run ${file}`);
		expect(result.code, result.stderr).toBe(0);
		expect(readLoopState(fx).blueprint.values.merged).toEqual([
			["merged", []],
			["conflict", ["lib.js"]],
		]);
		expect(readFileSync(join(fx.project, "lib.js"), "utf8")).toBe("exports.a = 'one';\n");
		const listing = await runPrint(fx, "/loop worktrees");
		expect(listing.stderr).toMatch(/conflict\s+loop\/.+\/2 .* · needs review/);
		const pruned = await runPrint(fx, "/loop worktrees prune");
		expect(pruned.stderr).toMatch(/conflict\s+loop\/.+\/2/);
		const git = (...args: string[]) =>
			execFileSync("git", args, { cwd: fx.project, env: fx.env, encoding: "utf8" }).trim();
		expect(git("branch", "--list", "loop/*")).toMatch(/loop\/.+\/2/);
		expect(git("show", `${git("branch", "--list", "--format=%(refname:short)", "loop/*")}:lib.js`)).toBe(
			"exports.a = 'two';",
		);
	});

	it("killed during the second isolated spawn, /loop resume replays the first and lands both", async () => {
		const fx = makeFixture({ files: { "lib.js": "exports.a = 1;\n" } });
		fx.env.XDG_CACHE_HOME = cacheOf(fx);
		setScript(fx, {
			steps: [],
			routes: [
				{ match: "first item", steps: [{ write: { path: "one.js", content: "exports.one = 1;\n" } }, { text: "1" }] },
				{
					match: "second item",
					steps: [{ hang: true }, { write: { path: "two.js", content: "exports.two = 2;\n" } }, { text: "2" }],
				},
			],
		});
		const file = blueprint(
			fx,
			"seq.ts",
			[
				'const one = await factory.spawn({ prompt: "first item", isolation: "worktree" });',
				'const two = await factory.spawn({ prompt: "second item", isolation: "worktree" });',
				"const merged = await factory.merge([one, two]);",
				"factory.state.merged = merged.map((m) => m.status);",
			].join("\n"),
		);
		await killAtRequest(fx, `/loop run ${file}`, 3, "the second spawn's model call");
		const resumed = await runPrint(fx, "/loop resume");
		expect(resumed.code, resumed.stderr).toBe(0);
		// Only the second item's agent ran again.
		expect(
			requests(fx)
				.slice(3)
				.map((r) => r.messages[0]?.text),
		).toEqual(["second item", "second item"]);
		expect(readLoopState(fx).blueprint.values.merged).toEqual(["merged", "merged"]);
		expect(readFileSync(join(fx.project, "one.js"), "utf8")).toBe("exports.one = 1;\n");
		expect(readFileSync(join(fx.project, "two.js"), "utf8")).toBe("exports.two = 2;\n");
		// The worktree the killed spawn worked in is kept (it was never committed), not deleted.
		const listing = await runPrint(fx, "/loop worktrees");
		expect(listing.stderr).toMatch(/active\s+loop\/.+\/2 /);
		expect(listing.stderr).not.toMatch(/loop\/.+\/2-2/);
	});
});
