/**
 * End-to-end: loop state across processes — resume after the pi process is
 * killed mid-iteration, the project lock, and corrupt state files.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	events,
	killAtRequest,
	LIB_FIXED,
	loopDir,
	makeFixture,
	readLoopState,
	requests,
	runPrint,
	setScript,
} from "../support/harness.ts";

const UNTIL = '/loop until "node test.js"';

describe("loop state across processes", () => {
	it("resumes a run whose pi process was killed mid-iteration", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [{ hang: true }, { write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed after resume" }],
		});
		await killAtRequest(fx, `${UNTIL} --max 4 --stagnation 4`, 1, "the first model request", 20_000);

		const interrupted = readLoopState(fx);
		expect(interrupted.status).toBe("running");
		expect(interrupted.current).toMatchObject({ n: 1 });

		const status = await runPrint(fx, "/loop status");
		expect(status.stderr).toContain("interrupted — /loop resume continues it");

		const resumed = await runPrint(fx, "/loop resume");
		expect(resumed.code, resumed.stderr).toBe(0);
		expect(resumed.stderr).toContain("took over a stale loop lock");
		const state = readLoopState(fx);
		expect(state).toMatchObject({ status: "ended", reason: "passed", runId: interrupted.runId });
		expect(state.history.map((h: { agent: string }) => h.agent)).toEqual(["interrupted", "ok"]);
		expect(state.options).toMatchObject({ max: 4, stagnation: 4 });
		const types = events(fx).map((e) => e.type);
		expect(types).toContain("run_resume");
		expect(types.at(-1)).toBe("run_end");
		// The resumed iteration is numbered on from the counters in the state file.
		expect(requests(fx)[1]?.messages[0]?.text).toContain("Loop iteration 2 of 4");
	});

	it("refuses a second loop while a live process holds the lock", async () => {
		const fx = makeFixture();
		const holder = spawn("sleep", ["30"], { stdio: "ignore" });
		try {
			mkdirSync(loopDir(fx), { recursive: true });
			writeFileSync(
				join(loopDir(fx), "lock.json"),
				JSON.stringify({ pid: holder.pid, host: hostname(), runId: "other-run", since: "2026-01-01T00:00:00Z" }),
			);
			const result = await runPrint(fx, UNTIL);
			expect(result.code).toBe(2);
			expect(result.stderr).toContain(`another loop is running in this project: run other-run, pid ${holder.pid}`);
			expect(requests(fx)).toHaveLength(0);
		} finally {
			holder.kill();
		}
	});

	it("takes over a stale lock left by a dead process", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }] });
		mkdirSync(loopDir(fx), { recursive: true });
		writeFileSync(
			join(loopDir(fx), "lock.json"),
			JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), runId: "dead-run", since: "2026-01-01T00:00:00Z" }),
		);
		const result = await runPrint(fx, UNTIL);
		expect(result.code).toBe(0);
		expect(result.stderr).toContain("took over a stale loop lock");
		expect(existsSync(join(loopDir(fx), "lock.json"))).toBe(false);
	});

	it("moves a corrupt state file aside with a clear error and never overwrites it", async () => {
		const fx = makeFixture();
		mkdirSync(loopDir(fx), { recursive: true });
		writeFileSync(join(loopDir(fx), "state.json"), "{ this is not json");
		const result = await runPrint(fx, UNTIL);
		expect(result.code).toBe(2);
		expect(result.stderr).toMatch(
			/loop state file .*state\.json is corrupt \(invalid JSON.*moved to .*state\.json\.corrupt-/,
		);
		expect(requests(fx)).toHaveLength(0);
		const aside = readdirSync(loopDir(fx)).filter((f) => f.startsWith("state.json.corrupt-"));
		expect(aside).toHaveLength(1);
		expect(readFileSync(join(loopDir(fx), aside[0] as string), "utf8")).toBe("{ this is not json");
		expect(existsSync(join(loopDir(fx), "state.json"))).toBe(false);
	});

	it("reports on runs and explains when there is nothing to resume", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }] });
		expect((await runPrint(fx, "/loop resume")).stderr).toContain("no loop run to resume");
		await runPrint(fx, UNTIL);
		const runId = readLoopState(fx).runId as string;
		const again = await runPrint(fx, "/loop resume");
		expect(again.code).toBe(2);
		expect(again.stderr).toContain(`the last run ${runId} already ended (passed)`);
		const report = await runPrint(fx, `/loop report ${runId}`);
		expect(report.code).toBe(0);
		expect(report.stderr).toContain(`# Loop report ${runId}`);
		const unknown = await runPrint(fx, "/loop report nope");
		expect(unknown.stderr).toContain(`no run "nope"; recorded runs: ${runId}`);
		const stop = await runPrint(fx, "/loop stop");
		expect(stop.code).toBe(1);
		expect(stop.stderr).toContain("no loop is running");
	});
});
