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
	/**
	 * Runs one agent iteration; `signal` aborts it (before it starts, or while it runs).
	 * `beforePrompt` must be awaited after the new session exists and before the prompt is sent.
	 */
	runAgent(prompt: string, signal: AbortSignal, hooks: AgentHooks): Promise<AgentOutcome>;
	/** Token usage recorded in an iteration's session file (for iterations cut off by a crash). */
	recoverUsage?(sessionFile: string): Usage;
	view: LoopView;
	now?: () => number;
	/** How often control requests and the deadline are polled while work runs. */
	pollMs?: number;
}

export interface AgentHooks {
	onSession(sessionFile: string | undefined): void;
	beforePrompt(): Promise<void>;
}

const NO_USAGE: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: 0 };

/** Runs (or, with resume, continues) the loop described by state until it ends; returns the final state. */
export async function runLoop(state: LoopState, deps: EngineDeps, resume = false): Promise<LoopState> {
	const now = deps.now ?? Date.now;
	const startedAt = now();
	const elapsedBase = state.elapsedMs;
	const elapsed = () => elapsedBase + (now() - startedAt);
	const event = (e: LoopEvent) => appendEvent(deps.paths, state.runId, e);
	const save = () => {
		state.elapsedMs = elapsed();
		saveState(deps.paths, state);
	};

	// One controller for the whole run: once aborted (by /loop abort or the time limit),
	// every check and agent run from then on is aborted too, whenever it starts.
	let interrupt: "aborted" | "timeout" | undefined;
	const stopAll = new AbortController();
	const pending = (): "aborted" | "timeout" | undefined => {
		if (interrupt) return interrupt;
		if (readControl(deps.paths, state.runId) === "abort") return "aborted";
		if (state.options.timeoutMs !== undefined && elapsed() >= state.options.timeoutMs) return "timeout";
		return undefined;
	};
	const poll = () => {
		const found = pending();
		if (found && !interrupt) {
			interrupt = found;
			stopAll.abort();
		}
		return interrupt;
	};
	const watcher = setInterval(() => {
		deps.view.onTick(state, elapsed());
		poll();
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
		// A check already recorded for the current boundary (a crash came after it) is not run again.
		let reuseCheck = false;
		if (!resume) event({ type: "run_start", check: state.check, preset: state.preset, goal: state.goal, options: state.options });
		else {
			clearControl(deps.paths); // a stop or abort aimed at the run before it died is void
			event({ type: "run_resume", iteration: state.history.length, elapsedMs: state.elapsedMs });
			if (state.current) await closeInterruptedIteration(state, deps, event);
			else reuseCheck = state.checks.length > 0 && (state.history.length === 0 || state.history.at(-1)?.checkAfter !== undefined);
		}
		save();

		for (;;) {
			const before = poll();
			if (before) return await end(interrupted(before));

			let check = state.checks.at(-1) as CheckRecord;
			if (!reuseCheck) {
				const run = await deps.runCheck(stopAll.signal);
				if (run.aborted) return await end(interrupted(poll() ?? "aborted"));
				check = recordCheck(state, run);
				event({ type: "check", exitCode: check.exitCode, durationMs: check.durationMs, failures: check.failures, timedOut: check.timedOut, fingerprint: check.fingerprint });
				save();
				await deps.view.onCheck(state, check);
			}
			reuseCheck = false;

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
			const late = poll();
			if (late) return await end(interrupted(late));

			await runIteration(state, deps, stopAll.signal, event, save);
			if (poll()) return await end(interrupted(interrupt ?? "aborted"));
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

/** A snapshot that could not be taken leaves "files changed" unknown (empty) instead of ending the run. */
async function trySnapshot<T>(what: string, take: () => Promise<T>, event: (e: LoopEvent) => void): Promise<T | undefined> {
	try {
		return await take();
	} catch (error) {
		event({ type: "snapshot_error", detail: `${what}: ${(error as Error).message}` });
		return undefined;
	}
}

async function runIteration(state: LoopState, deps: EngineDeps, signal: AbortSignal, event: (e: LoopEvent) => void, save: () => void): Promise<void> {
	const n = state.history.length + 1;
	const started = Date.now();
	// The baseline snapshot overlaps the session switch; the prompt waits for it, so the
	// agent cannot change a file before the baseline is taken.
	const baselineTaken = trySnapshot("baseline", () => deps.snapshot(), event);
	const current: NonNullable<LoopState["current"]> = { n, startedAt: new Date(started).toISOString() };
	state.current = current;
	event({ type: "iteration_start", iteration: n });
	save();
	await deps.view.onIterationStart(state);

	let outcome: AgentOutcome;
	try {
		outcome = await deps.runAgent(buildIterationPrompt(state, n), signal, {
			onSession: (sessionFile) => {
				current.sessionFile = sessionFile;
			},
			beforePrompt: async () => {
				const taken = await baselineTaken;
				if (taken?.kind === "git") current.baseline = taken.tree;
				save();
			},
		});
	} catch (error) {
		outcome = { status: "error", error: (error as Error).message, text: "", usage: NO_USAGE };
	}
	const baseline = await baselineTaken;
	const filesChanged = baseline ? ((await trySnapshot("changes", () => deps.changedSince(baseline), event)) ?? []) : [];
	const promiseMade = state.options.promise !== undefined && outcome.status === "ok" && hasPromise(outcome.text, state.options.promise);
	const record: IterationRecord = {
		n,
		startedAt: current.startedAt,
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
	const baseline: Snapshot | undefined = current.baseline ? { kind: "git", tree: current.baseline } : undefined;
	const filesChanged = baseline ? ((await trySnapshot("changes", () => deps.changedSince(baseline), event)) ?? []) : [];
	const usage = current.sessionFile && deps.recoverUsage ? deps.recoverUsage(current.sessionFile) : NO_USAGE;
	const record: IterationRecord = {
		n: current.n,
		startedAt: current.startedAt,
		durationMs: 0,
		agent: "interrupted",
		error: "the pi process ended during this iteration",
		filesChanged,
		usage,
		summary: "",
		promiseMade: false,
		checkBefore: state.checks.length - 1,
		sessionFile: current.sessionFile,
	};
	state.history.push(record);
	state.current = undefined;
	event({ type: "iteration_end", iteration: record.n, agent: "interrupted", filesChanged, usage, cost: usage.cost, session: current.sessionFile });
}

