/**
 * The Ralph loop engine: check → (done? limit?) → fresh agent iteration →
 * record → repeat. Everything it learns goes to state.json and events.jsonl
 * as it happens, so a killed process leaves a run that /loop resume
 * continues. All side effects come in through EngineDeps, which keeps the
 * engine independent of pi and testable with fakes.
 */
import type { CheckRun } from "./check-runner.ts";
import { fingerprint, outputTail, parseFailureCount } from "./output.ts";
import { buildIterationPrompt, hasPromise, summarize } from "./prompt.ts";
import { renderReport } from "./report.ts";
import type { Snapshot } from "./snapshot.ts";
import { limitReached, type StopDecision } from "./stop-rules.ts";
import { plural } from "./view.ts";
import { appendEvent, clearControl, type LoopEvent, type LoopPaths, readControl, saveState, writeReport } from "./store.ts";
import type { AgentStatus, CheckRecord, IterationRecord, LoopState, Usage } from "./types.ts";

export interface AgentOutcome {
	status: Exclude<AgentStatus, "interrupted">;
	error?: string;
	text: string;
	usage: Usage;
	sessionFile?: string;
}

export interface LoopView {
	onCheck(state: LoopState, check: CheckRecord): Promise<void> | void;
	onIterationStart(state: LoopState): Promise<void> | void;
	onIterationEnd(state: LoopState, iteration: IterationRecord): Promise<void> | void;
	onEnd(state: LoopState, reportPath: string): Promise<void> | void;
	/** Periodic refresh while something runs (elapsed time). */
	onTick(state: LoopState, elapsedMs: number): void;
}

export interface EngineDeps {
	paths: LoopPaths;
	runCheck(signal: AbortSignal): Promise<CheckRun>;
	snapshot(): Promise<Snapshot>;
	changedSince(before: Snapshot): Promise<string[]>;
	runAgent(prompt: string, n: number): Promise<AgentOutcome>;
	abortAgent(): void;
	view: LoopView;
	now?: () => number;
	/** How often control requests and the deadline are polled while work runs. */
	pollMs?: number;
}

const NO_USAGE: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: 0 };

/** Runs (or resumes) the loop described by state until it ends; returns the final state. */
export async function runLoop(state: LoopState, deps: EngineDeps): Promise<LoopState> {
	const now = deps.now ?? Date.now;
	const startedAt = now();
	const elapsedBase = state.elapsedMs;
	const elapsed = () => elapsedBase + (now() - startedAt);
	const event = (e: LoopEvent) => appendEvent(deps.paths, state.runId, e);
	const save = () => {
		state.elapsedMs = elapsed();
		saveState(deps.paths, state);
	};

	let interrupt: "aborted" | "timeout" | undefined;
	let checkAbort = new AbortController();
	const pending = (): "aborted" | "timeout" | undefined => {
		if (interrupt) return interrupt;
		if (readControl(deps.paths, state.runId) === "abort") return "aborted";
		if (state.options.timeoutMs !== undefined && elapsed() >= state.options.timeoutMs) return "timeout";
		return undefined;
	};
	const watcher = setInterval(() => {
		deps.view.onTick(state, elapsed());
		const found = pending();
		if (found && !interrupt) {
			interrupt = found;
			checkAbort.abort();
			deps.abortAgent();
		}
	}, deps.pollMs ?? 250);

	const end = async (decision: StopDecision): Promise<LoopState> => {
		state.status = "ended";
		state.reason = decision.reason;
		state.detail = decision.detail;
		state.endedAt = new Date(now()).toISOString();
		state.current = undefined;
		save();
		event({ type: "run_end", reason: decision.reason, detail: decision.detail, iterations: state.history.length });
		const reportPath = writeReport(deps.paths, state.runId, renderReport(state));
		clearControl(deps.paths);
		await deps.view.onEnd(state, reportPath);
		return state;
	};
	const interrupted = (reason: "aborted" | "timeout"): StopDecision =>
		reason === "timeout"
			? { reason, detail: `loop time limit of ${Math.round((state.options.timeoutMs ?? 0) / 1000)}s reached` }
			: { reason, detail: "aborted by /loop abort" };

	try {
		if (state.checks.length === 0) event({ type: "run_start", check: state.check, preset: state.preset, goal: state.goal, options: state.options });
		else {
			event({ type: "run_resume", iteration: state.history.length, elapsedMs: state.elapsedMs });
			if (state.current) await closeInterruptedIteration(state, deps, event);
		}
		save();

		for (;;) {
			const before = pending();
			if (before) return await end(interrupted(before));

			checkAbort = new AbortController();
			const run = await deps.runCheck(checkAbort.signal);
			if (run.aborted) return await end(interrupted(interrupt ?? pending() ?? "aborted"));
			const check = recordCheck(state, run);
			event({ type: "check", exitCode: check.exitCode, durationMs: check.durationMs, failures: check.failures, timedOut: check.timedOut, fingerprint: check.fingerprint });
			save();
			await deps.view.onCheck(state, check);

			const previous = state.history.at(-1);
			const promise = state.options.promise;
			if (check.exitCode === 0) {
				if (!promise) return await end({ reason: "passed", detail: previous ? `passed after ${plural(state.history.length, "iteration")}` : "passed at the start; no model call was needed" });
				if (previous?.promiseMade) return await end({ reason: "promise", detail: `check passes and the agent promised "${promise}"` });
				if (previous) event({ type: "promise_missing", iteration: previous.n, detail: "check passes but the agent has not made its promise yet" });
			} else if (previous?.promiseMade) {
				event({ type: "promise_rejected", iteration: previous.n, detail: "the agent promised completion but the check fails" });
			}
			if (readControl(deps.paths, state.runId) === "stop") return await end({ reason: "stopped", detail: "stopped by /loop stop" });
			const limit = limitReached(state.history, state.checks, state.options);
			if (limit) return await end(limit);
			if (state.history.length >= state.options.max) {
				return await end({ reason: "max-iterations", detail: `${state.options.max} iterations ran and the check still ${check.exitCode === 0 ? "lacks the promise" : "fails"}` });
			}
			const late = pending();
			if (late) return await end(interrupted(late));

			await runIteration(state, deps, event, save);
			if (interrupt) return await end(interrupted(interrupt));
			const last = state.history.at(-1);
			if (last?.agent === "aborted") return await end({ reason: "aborted", detail: "the agent run was aborted" });
		}
	} finally {
		clearInterval(watcher);
	}
}

function recordCheck(state: LoopState, run: CheckRun): CheckRecord {
	const check: CheckRecord = {
		exitCode: run.exitCode,
		durationMs: run.durationMs,
		timedOut: run.timedOut,
		failures: run.exitCode === 0 ? 0 : parseFailureCount(run.output),
		fingerprint: fingerprint(run.exitCode, run.output),
		tail: outputTail(run.output),
	};
	state.checks.push(check);
	const previous = state.history.at(-1);
	if (previous && previous.checkAfter === undefined) previous.checkAfter = state.checks.length - 1;
	return check;
}

async function runIteration(state: LoopState, deps: EngineDeps, event: (e: LoopEvent) => void, save: () => void): Promise<void> {
	const n = state.history.length + 1;
	const started = Date.now();
	const baseline = await deps.snapshot();
	state.current = { n, startedAt: new Date(started).toISOString(), baseline: baseline.kind === "git" ? baseline.tree : undefined };
	event({ type: "iteration_start", iteration: n });
	save();
	await deps.view.onIterationStart(state);

	let outcome: AgentOutcome;
	try {
		outcome = await deps.runAgent(buildIterationPrompt(state, n), n);
	} catch (error) {
		outcome = { status: "error", error: (error as Error).message, text: "", usage: NO_USAGE };
	}
	const filesChanged = await deps.changedSince(baseline);
	const promiseMade = state.options.promise !== undefined && outcome.status === "ok" && hasPromise(outcome.text, state.options.promise);
	const record: IterationRecord = {
		n,
		startedAt: state.current.startedAt,
		durationMs: Date.now() - started,
		agent: outcome.status,
		error: outcome.error,
		filesChanged,
		usage: outcome.usage,
		summary: summarize(outcome.text),
		promiseMade,
		checkBefore: state.checks.length - 1,
		sessionFile: outcome.sessionFile,
	};
	state.history.push(record);
	state.current = undefined;
	event({ type: "iteration_end", iteration: n, agent: record.agent, error: record.error, filesChanged, usage: record.usage, cost: record.usage.cost, promiseMade, durationMs: record.durationMs, session: record.sessionFile });
	save();
	writeReport(deps.paths, state.runId, renderReport(state));
	await deps.view.onIterationEnd(state, record);
}

/** A run resumed after a crash: the iteration that was running is closed as "interrupted". */
async function closeInterruptedIteration(state: LoopState, deps: EngineDeps, event: (e: LoopEvent) => void): Promise<void> {
	const current = state.current;
	if (!current) return;
	let filesChanged: string[] = [];
	if (current.baseline) {
		try {
			filesChanged = await deps.changedSince({ kind: "git", tree: current.baseline });
		} catch {
			filesChanged = [];
		}
	}
	const record: IterationRecord = {
		n: current.n,
		startedAt: current.startedAt,
		durationMs: 0,
		agent: "interrupted",
		error: "the pi process ended during this iteration",
		filesChanged,
		usage: NO_USAGE,
		summary: "",
		promiseMade: false,
		checkBefore: state.checks.length - 1,
	};
	state.history.push(record);
	state.current = undefined;
	event({ type: "iteration_end", iteration: record.n, agent: "interrupted", filesChanged, usage: NO_USAGE, cost: 0 });
}

