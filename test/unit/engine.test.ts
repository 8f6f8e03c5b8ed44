/** Unit tests: the loop engine with fake checks, agents and snapshots. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CheckRun } from "../../extensions/core/check-runner.ts";
import { type AgentOutcome, type EngineDeps, runLoop } from "../../extensions/loop/engine.ts";
import { renderReport } from "../../extensions/loop/report.ts";
import type { Snapshot } from "../../extensions/loop/snapshot.ts";
import { ensureLoopDir, ensureRunDir, type LoopPaths, loopPaths, requestControl } from "../../extensions/loop/store.ts";
import { DEFAULT_OPTIONS, type LoopOptions, type LoopState, totalUsage } from "../../extensions/loop/types.ts";
import { checkLoop } from "../../extensions/loop/workflows/check-loop.ts";

const ZERO = { input: 1, output: 1, cacheRead: 0, cacheWrite: 0, cost: 0.5 };
const pass: CheckRun = {
	exitCode: 0,
	output: "ok",
	stdout: "ok",
	stderr: "",
	durationMs: 1,
	timedOut: false,
	aborted: false,
};
const fail = (n: number): CheckRun => ({
	exitCode: 1,
	output: `${n} failed`,
	stdout: `${n} failed`,
	stderr: "",
	durationMs: 1,
	timedOut: false,
	aborted: false,
});
const ok = (text = "did a thing"): AgentOutcome => ({ status: "ok", text, usage: ZERO });

interface Script {
	checks: CheckRun[];
	agents: (AgentOutcome | ((paths: LoopPaths, signal: AbortSignal) => Promise<AgentOutcome>))[];
	/** Delay of every snapshot, to open a window between iterations. */
	snapshotMs?: number;
	resume?: boolean;
	/** Files each agent run "changes". */
	files?: string[][];
	options?: Partial<LoopOptions>;
	state?: Partial<LoopState>;
	beforeRun?: (paths: LoopPaths) => void;
}

async function run(script: Script) {
	const paths = loopPaths(mkdtempSync(join(tmpdir(), "pi-loop-engine-")));
	ensureLoopDir(paths);
	ensureRunDir(paths, "r");
	const prompts: string[] = [];
	let checkCalls = 0;
	let agentCalls = 0;
	let snap = 0;
	let agentSignalAborted = 0;
	const state: LoopState = {
		version: 1,
		runId: "r",
		preset: "until",
		check: "x",
		checkSource: "t",
		goal: "goal",
		options: { ...DEFAULT_OPTIONS, ...script.options },
		status: "running",
		startedAt: "",
		elapsedMs: 0,
		checks: [],
		history: [],
		pid: 1,
		...script.state,
	};
	const deps: EngineDeps = {
		paths,
		workflow: checkLoop(),
		renderReport,
		role: "implement",
		runCheck: async (signal) => {
			const result = script.checks[checkCalls++] ?? fail(99);
			if (signal.aborted) return { ...result, aborted: true };
			return result;
		},
		snapshot: async (): Promise<Snapshot> => {
			if (script.snapshotMs) await new Promise((r) => setTimeout(r, script.snapshotMs));
			return { kind: "git", tree: `t${snap++}` };
		},
		changedSince: async () => script.files?.[agentCalls - 1] ?? [],
		runAgent: async (prompt, signal, hooks) => {
			await hooks.beforePrompt();
			prompts.push(prompt);
			signal.addEventListener("abort", () => agentSignalAborted++);
			const next = script.agents[agentCalls++] ?? ok();
			return typeof next === "function" ? next(paths, signal) : next;
		},
		view: { onCheck() {}, onIterationStart() {}, onIterationEnd() {}, onEnd() {}, onTick() {} },
		pollMs: 10,
	};
	if (script.beforeRun) script.beforeRun(paths);
	const final = await runLoop(state, deps, script.resume ?? false);
	return {
		final,
		prompts,
		checkCalls: () => checkCalls,
		aborted: () => agentSignalAborted,
		agentCalls: () => agentCalls,
		paths,
	};
}

describe("runLoop", () => {
	it("runs the check once per iteration boundary, never twice", async () => {
		const r = await run({ checks: [fail(2), fail(1), pass], agents: [ok(), ok()], files: [["a"], ["b"]] });
		expect(r.final).toMatchObject({ status: "ended", reason: "passed" });
		expect(r.final.history).toHaveLength(2);
		expect(r.checkCalls()).toBe(3);
		expect(r.final.history.map((h) => [h.checkBefore, h.checkAfter])).toEqual([
			[0, 1],
			[1, 2],
		]);
		expect(r.prompts[1]).toContain("Loop iteration 2 of 10");
		expect(r.prompts[1]).toContain("#1: changed a · failures 2→1");
	});
	it("ends at max iterations with the final check recorded", async () => {
		const r = await run({
			checks: [fail(3), fail(2), fail(1)],
			agents: [],
			files: [["a"], ["b"]],
			options: { max: 2 },
		});
		expect(r.final.reason).toBe("max-iterations");
		expect(r.final.checks).toHaveLength(3);
	});
	it("stops when asked, after the current iteration and its check", async () => {
		const r = await run({
			checks: [fail(2), fail(1), fail(1)],
			agents: [
				async (paths) => {
					requestControl(paths, "r", "stop");
					return ok();
				},
			],
			files: [["a"]],
		});
		expect(r.final).toMatchObject({ reason: "stopped", detail: "stopped by /loop stop" });
		expect(r.final.history).toHaveLength(1);
		expect(r.checkCalls()).toBe(2);
	});
	it("a passing check wins over a pending stop", async () => {
		const r = await run({
			checks: [fail(1), pass],
			agents: [
				async (paths) => {
					requestControl(paths, "r", "stop");
					return ok();
				},
			],
			files: [["a"]],
		});
		expect(r.final.reason).toBe("passed");
	});
	it("aborts a running agent when /loop abort is requested", async () => {
		const r = await run({
			checks: [fail(1)],
			agents: [
				async (paths) => {
					requestControl(paths, "r", "abort");
					// The agent keeps going until the engine's poll aborts it.
					await new Promise((resolve) => setTimeout(resolve, 100));
					return { status: "aborted", text: "", usage: ZERO };
				},
			],
		});
		expect(r.final).toMatchObject({ reason: "aborted", detail: "aborted by /loop abort" });
		expect(r.aborted()).toBeGreaterThan(0);
	});
	it("ends with timeout and aborts the agent when the loop time runs out", async () => {
		const r = await run({
			checks: [fail(1)],
			agents: [
				() =>
					new Promise<AgentOutcome>((resolve) =>
						setTimeout(() => resolve({ status: "aborted", text: "", usage: ZERO }), 200),
					),
			],
			options: { timeoutMs: 50 },
		});
		expect(r.final.reason).toBe("timeout");
		expect(r.aborted()).toBeGreaterThan(0);
	});
	it("counts thrown agent errors as failures", async () => {
		const boom = async (): Promise<AgentOutcome> => {
			throw new Error("no API key");
		};
		const r = await run({ checks: [fail(1), fail(1), fail(1)], agents: [boom, boom] });
		expect(r.final).toMatchObject({ reason: "failures", detail: "2 consecutive agent errors (last: no API key)" });
	});
	it("closes an interrupted iteration on resume and continues the counters", async () => {
		const r = await run({
			checks: [pass],
			agents: [],
			resume: true,
			state: {
				checks: [{ exitCode: 1, durationMs: 1, timedOut: false, fingerprint: "f", tail: "" }],
				current: { n: 1, startedAt: "x", baseline: "t-base" },
				elapsedMs: 1234,
			},
		});
		expect(r.final.reason).toBe("passed");
		expect(r.final.history.map((h) => [h.n, h.agent, h.checkAfter])).toEqual([[1, "interrupted", 1]]);
		expect(r.final.elapsedMs).toBeGreaterThanOrEqual(1234);
	});
	it("sums usage and cost over iterations", async () => {
		const r = await run({ checks: [fail(2), fail(1), pass], agents: [ok(), ok()], files: [["a"], ["b"]] });
		expect(totalUsage(r.final)).toEqual({ input: 2, output: 2, cacheRead: 0, cacheWrite: 0, cost: 1 });
	});
	it("an abort between iterations keeps the next agent from running at all", async () => {
		const r = await run({
			checks: [fail(2), fail(1)],
			agents: [
				async (paths) => {
					requestControl(paths, "r", "abort");
					return ok();
				},
			],
			files: [["a"]],
			snapshotMs: 60,
		});
		expect(r.final.reason).toBe("aborted");
		expect(r.agentCalls()).toBe(1);
	});
	it("a timeout reached during a snapshot still ends the run before the agent works", async () => {
		const r = await run({
			checks: [fail(1)],
			agents: [async (_paths, signal) => ({ status: signal.aborted ? "aborted" : "ok", text: "", usage: ZERO })],
			snapshotMs: 80,
			options: { timeoutMs: 30 },
		});
		expect(r.final.reason).toBe("timeout");
		expect(r.final.history[0]?.agent ?? "none").not.toBe("ok");
	});
	it("on resume, ignores a stop left over from before the crash and reuses the recorded check", async () => {
		const r = await run({
			checks: [pass],
			agents: [],
			resume: true,
			beforeRun: (paths) => requestControl(paths, "r", "stop"),
			state: { checks: [{ exitCode: 1, durationMs: 1, timedOut: false, fingerprint: "f", tail: "1 failed" }] },
		});
		// The recorded failing check is reused (no second run for the same boundary), the stale stop is void,
		// and the iteration runs; the check after it passes.
		expect(r.final.reason).toBe("passed");
		expect(r.checkCalls()).toBe(1);
		expect(r.final.checks).toHaveLength(2);
		expect(r.agentCalls()).toBe(1);
	});
});
