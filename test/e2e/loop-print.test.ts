/**
 * End-to-end: the real pi CLI in print mode (`pi -p "/loop …"`) with this
 * package loaded and the scripted model, on temporary git projects.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	BUGGY_LIB,
	events,
	gitLog,
	LIB_FIXED,
	LIB_HALF_FIXED,
	makeFixture,
	REPO_ROOT,
	readLoopState,
	requests,
	runPrint,
	setScript,
} from "../support/harness.ts";

const UNTIL = '/loop until "node test.js"';

describe("/loop in print mode", () => {
	it("fixes the project in two fresh iterations and exits 0", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [
				{ write: { path: "lib.js", content: LIB_HALF_FIXED } },
				{ text: "Fixed add; mul is still wrong." },
				{ write: { path: "lib.js", content: LIB_FIXED } },
				{ text: "Fixed mul." },
			],
			costPerCall: 0.01,
		});
		const result = await runPrint(fx, `${UNTIL} --max 5 -- make every test pass`);
		expect(result.code, result.stderr).toBe(0);
		expect(readFileSync(join(fx.project, "lib.js"), "utf8")).toBe(LIB_FIXED);

		const ev = events(fx);
		expect(ev.map((e) => e.type)).toEqual([
			"run_start",
			"check",
			"iteration_start",
			"iteration_end",
			"check",
			"iteration_start",
			"iteration_end",
			"check",
			"run_end",
		]);
		expect(ev.at(-1)).toMatchObject({ type: "run_end", reason: "passed", iterations: 2 });
		const checks = ev.filter((e) => e.type === "check");
		expect(checks.map((c) => c.failures)).toEqual([2, 1, 0]);
		const ends = ev.filter((e) => e.type === "iteration_end");
		expect(ends[0]).toMatchObject({ agent: "ok", filesChanged: ["lib.js"], cost: 0.02 });

		// Each iteration's model context is fresh: its first request holds only the iteration prompt.
		const reqs = requests(fx);
		expect(reqs).toHaveLength(4);
		const second = reqs[2];
		expect(second?.messages).toHaveLength(1);
		expect(second?.messages[0]?.text).toContain("Loop iteration 2 of 5");
		expect(second?.messages[0]?.text).toContain("make every test pass");
		expect(second?.messages[0]?.text).toContain("FAIL mul(2, 3) = 5");
		expect(second?.messages[0]?.text).toContain(
			'#1: changed lib.js · failures 2→1 · said: "Fixed add; mul is still wrong."',
		);
		expect(JSON.stringify(second)).not.toContain("FAIL add(2, 3)");

		const state = readLoopState(fx);
		expect(state).toMatchObject({ status: "ended", reason: "passed" });
		expect(state.history).toHaveLength(2);
		// The loop never commits; the user's history is untouched.
		expect(gitLog(fx)).toEqual(["initial"]);
		const report = readFileSync(join(fx.project, ".pi", "loop", "runs", state.runId, "report.md"), "utf8");
		expect(report).toContain("**passed**");
		expect(report).toMatch(/\| 1 \| exit 1 \(2\) \| exit 1 \(1\) \| lib\.js \| ok \| faux\/faux-1 \|/);
	});

	it("ends passed at the start without any model call", async () => {
		const fx = makeFixture({ files: { ...BUGGY_LIB, "lib.js": LIB_FIXED } });
		const result = await runPrint(fx, UNTIL);
		expect(result.code).toBe(0);
		expect(requests(fx)).toHaveLength(0);
		expect(events(fx).at(-1)).toMatchObject({ reason: "passed", iterations: 0 });
		expect(result.stderr).toContain("passed at the start");
	});

	it("without the hydrate extension the loop runs and says that hydration is off", async () => {
		const fx = makeFixture();
		fx.load = [join(REPO_ROOT, "extensions", "loop", "index.ts")];
		setScript(fx, { steps: [], fallback: { text: "nothing to do" } });
		const result = await runPrint(fx, `${UNTIL} --max 1`);
		expect(result.code).toBe(1);
		expect(result.stderr).toContain("context hydration is off for this run — pi-loop-factory's hydrate extension");
		expect(requests(fx)).toHaveLength(1);
		const full = makeFixture();
		setScript(full, { steps: [], fallback: { text: "nothing to do" } });
		expect((await runPrint(full, `${UNTIL} --max 1`)).stderr).not.toContain("context hydration is off");
	});

	it("ends with stagnation when iterations change nothing (exit 1)", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [], fallback: { text: "I looked but changed nothing." } });
		const result = await runPrint(fx, `${UNTIL} --stagnation 2 --max 6`);
		expect(result.code).toBe(1);
		expect(events(fx).at(-1)).toMatchObject({ reason: "stagnation", iterations: 2 });
		expect(requests(fx)).toHaveLength(2);
	});

	it("ends with max-iterations when work continues but the check never passes", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [
				{ write: { path: "notes.md", content: "attempt 1" } },
				{ text: "tried one thing" },
				{ write: { path: "notes.md", content: "attempt 2" } },
				{ text: "tried another" },
			],
		});
		const result = await runPrint(fx, `${UNTIL} --max 2`);
		expect(result.code).toBe(1);
		const last = events(fx).at(-1);
		expect(last).toMatchObject({ reason: "max-iterations", iterations: 2 });
		expect(readLoopState(fx).checks).toHaveLength(3);
	});

	it("ends with failures after consecutive agent errors", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [], fallback: { error: "scripted provider outage" } });
		const result = await runPrint(fx, `${UNTIL} --max-failures 2`);
		expect(result.code).toBe(1);
		const ev = events(fx);
		expect(ev.at(-1)).toMatchObject({ reason: "failures", iterations: 2 });
		expect(ev.filter((e) => e.type === "iteration_end").every((e) => e.agent === "error")).toBe(true);
		expect(String(ev.at(-1)?.detail)).toContain("scripted provider outage");
	});

	it("with --promise, a passing check is not enough and a promise alone is rejected", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [
				{ text: "All done! <promise>SHIPPED</promise>" }, // promise while the check fails → rejected
				{ write: { path: "lib.js", content: LIB_FIXED } },
				{ text: "Fixed both functions." }, // check passes, no promise → loop continues
				{ text: "Verified. <promise>SHIPPED</promise>" },
			],
		});
		const result = await runPrint(fx, `${UNTIL} --promise SHIPPED --max 5`);
		expect(result.code, result.stderr).toBe(0);
		const ev = events(fx);
		expect(ev.filter((e) => e.type === "promise_rejected").map((e) => e.iteration)).toEqual([1]);
		expect(ev.filter((e) => e.type === "promise_missing").map((e) => e.iteration)).toEqual([2]);
		expect(ev.at(-1)).toMatchObject({ reason: "promise", iterations: 3 });
		expect(requests(fx)[0]?.messages[0]?.text).toContain("<promise>SHIPPED</promise>");
	});

	it("with --promise, the agent runs at least once even if the check already passes", async () => {
		const fx = makeFixture({ files: { ...BUGGY_LIB, "lib.js": LIB_FIXED } });
		setScript(fx, { steps: [{ text: "Checked; it is complete. <promise>OK</promise>" }] });
		const result = await runPrint(fx, `${UNTIL} --promise OK`);
		expect(result.code).toBe(0);
		expect(requests(fx)).toHaveLength(1);
		expect(events(fx).at(-1)).toMatchObject({ reason: "promise", iterations: 1 });
	});

	it("kills a check that outlives --check-timeout and reports it", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [], fallback: { text: "nothing to do" } });
		const started = Date.now();
		const result = await runPrint(fx, '/loop until "sleep 30" --check-timeout 300ms --max 1');
		expect(Date.now() - started).toBeLessThan(20_000);
		expect(result.code).toBe(1);
		const checks = events(fx).filter((e) => e.type === "check");
		expect(checks.length).toBe(2);
		expect(checks.every((c) => c.timedOut === true && c.exitCode !== 0)).toBe(true);
		expect(requests(fx)[0]?.messages[0]?.text).toContain("check timed out after 300 ms");
	});

	it("ends with timeout when the whole loop outlives --timeout", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ hang: true }] });
		const result = await runPrint(fx, `${UNTIL} --timeout 2s`);
		expect(result.code).toBe(1);
		expect(events(fx).at(-1)).toMatchObject({ type: "run_end", reason: "timeout" });
	});

	it("ends an agent turn that outlives --iteration-timeout as an agent error", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ hang: true }] });
		const result = await runPrint(fx, `${UNTIL} --iteration-timeout 1s --max-failures 1`);
		expect(result.code).toBe(1);
		expect(events(fx).at(-1)).toMatchObject({
			reason: "failures",
			detail: expect.stringContaining("exceeded its time limit of 1s"),
		});
	});

	it("keeps --no-session iterations out of the project directory", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }] });
		const result = await runPrint(fx, UNTIL, ["--no-session"]);
		expect(result.code).toBe(0);
		const stray = readdirSync(fx.project, { recursive: true })
			.map(String)
			.filter((f) => f.endsWith(".jsonl") && !f.startsWith(join(".pi", "loop")));
		expect(stray).toEqual([]);
	});

	it("does not point iteration sessions at an origin session that was never written", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }] });
		const result = await runPrint(fx, UNTIL);
		expect(result.code).toBe(0);
		const session = readLoopState(fx).history[0].sessionFile as string;
		expect(session.startsWith(fx.agentDir)).toBe(true);
		const header = JSON.parse(readFileSync(session, "utf8").split("\n")[0] as string);
		expect(header.parentSession).toBeUndefined();
	});
});

describe("/loop usage errors exit 2 and run nothing", () => {
	const cases: [string, RegExp][] = [
		["/loop until", /needs a check command/],
		[`${UNTIL} --max 0`, /--max must be between 1 and 1000/],
		[`${UNTIL} --max ten`, /--max expects a whole number/],
		[`${UNTIL} --timeout soon`, /--timeout expects a duration/],
		[`${UNTIL} --frobnicate`, /unknown flag --frobnicate/],
		[`${UNTIL} --prompt-file missing.md`, /--prompt-file: .*missing\.md does not exist/],
		["/loop sometimes", /unknown subcommand "sometimes"/],
		["/loop tests", /no tests command found: looked for a package.json script "test".*Cargo\.toml, go\.mod/],
	];
	it.each(cases)("%s", async (command, message) => {
		const fx = makeFixture();
		const result = await runPrint(fx, command);
		expect(result.code).toBe(2);
		expect(result.stderr).toMatch(message);
		expect(requests(fx)).toHaveLength(0);
	});
});

describe("/loop presets and custom instructions", () => {
	it("/loop tests uses the package.json test script and --prompt-file instructions", async () => {
		const fx = makeFixture({
			files: {
				...BUGGY_LIB,
				"package.json": JSON.stringify({ name: "sample", scripts: { test: "node test.js" } }),
				"LOOP.md": "Only edit lib.js. Be brief.",
			},
		});
		setScript(fx, { steps: [{ write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }] });
		const result = await runPrint(fx, "/loop tests --prompt-file LOOP.md");
		expect(result.code, result.stderr).toBe(0);
		const prompt = requests(fx)[0]?.messages[0]?.text ?? "";
		expect(prompt).toContain("`npm test` — latest run failed (exit 1, 2 failures)");
		expect(prompt).toContain("Only edit lib.js. Be brief.");
		expect(prompt).not.toContain("Keep the change small");
		expect(readLoopState(fx)).toMatchObject({ check: "npm test", checkSource: 'package.json script "test"' });
	});
});
