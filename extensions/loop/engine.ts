/**
 * The Ralph loop engine: (workflow decides: done?) → limits → fresh agent
 * iteration → record → (workflow verifies) → repeat. What a loop checks and
 * when it is done is the Workflow's job (check loops, plan, build, prd); the
 * engine owns iterations, limits, stop/abort/timeout and the record. Every
 * step goes to state.json and events.jsonl as it happens, so a killed process
 * leaves a run that /loop resume continues. Side effects come in through
 * EngineDeps, which keeps the engine independent of pi and testable.
 */

import { outputTail } from "../core/check-output.ts";
import type { CheckRun } from "../core/check-runner.ts";
import { identifyCheck } from "../core/failure-identity.ts";
import { hasPromise, summarize } from "./agent-answer.ts";
import type { LoopEvent } from "./events.ts";
import type { Snapshot } from "./snapshot.ts";
import { limitReached, type StopDecision } from "./stop-rules.ts";
import { appendEvent, clearControl, type LoopPaths, readControl, saveState, writeReport } from "./store.ts";
import {
	type AgentStatus,
	type CheckRecord,
	type IterationRecord,
	type LoopState,
	type SideCall,
	type Usage,
	ZERO_USAGE,
} from "./types.ts";

export type { StopDecision };

export interface AgentOutcome {
	status: Exclude<AgentStatus, "interrupted">;
	error?: string;
	text: string;
	usage: Usage;
	sessionFile?: string;
	/** provider/model of the last answer. */
	model?: string;
}

export interface LoopView {
	onCheck(state: LoopState, check: CheckRecord): Promise<void> | void;
	onIterationStart(state: LoopState): Promise<void> | void;
	onIterationEnd(state: LoopState, iteration: IterationRecord): Promise<void> | void;
	onEnd(state: LoopState, reportPath: string): Promise<void> | void;
	/** Periodic refresh while something runs (elapsed time). */
	onTick(state: LoopState, elapsedMs: number): void;
}

/** What a workflow may use during a run. */
export interface RunContext {
	state: LoopState;
	deps: EngineDeps;
	/** Aborted by /loop abort or the loop's time limit. */
	signal: AbortSignal;
	event(e: LoopEvent): void;
	save(): void;
	/** Runs the check command once and records it (linking it to the previous iteration); undefined if aborted. */
	check(): Promise<CheckRecord | undefined>;
}

export interface IterationPlan {
	prompt: string;
	/** Model role to run under (default: the run's iteration role). */
	role?: string;
	/** The task context hydration should gather for (omit for none). */
	task?: string;
	failures?: string;
}

export interface Workflow {
	/** Top of every cycle; `resumed` on the first cycle of a resumed run. An ending stops the run. */
	begin(run: RunContext, resumed: boolean): Promise<StopDecision | undefined>;
	/** The prompt for iteration n. */
	prepare(run: RunContext, n: number): Promise<IterationPlan>;
	/** After the agent of an iteration finished (not after an abort or timeout). */
	finish(run: RunContext, iteration: IterationRecord): Promise<StopDecision | undefined>;
}

export interface EngineDeps {
	paths: LoopPaths;
	workflow: Workflow;
	runCheck(signal: AbortSignal): Promise<CheckRun>;
	/** Asks the hydrate extension to add context for this exact prompt. */
	requestHydration?(prompt: string, task: string, failures?: string): void;
	snapshot(): Promise<Snapshot>;
	changedSince(before: Snapshot): Promise<string[]>;
	/**
	 * Runs one agent iteration; `signal` aborts it (before it starts, or while it runs).
	 * `beforePrompt` must be awaited after the new session exists and before the prompt is sent.
	 */
	runAgent(prompt: string, signal: AbortSignal, hooks: AgentHooks, role: string): Promise<AgentOutcome>;
	/** The run's iteration role. */
	role: string;
	/** A review pass over an iteration's changes (--review); undefined when reviews are off. */
	review?(iteration: IterationRecord, subject: string, signal: AbortSignal): Promise<SideCall>;
	/** Token usage recorded in an iteration's session file (for iterations cut off by a crash). */
	recoverUsage?(sessionFile: string): Usage;
	view: LoopView;
	/** report.md for the state as it stands (written after every iteration and at the end). */
	renderReport(state: LoopState): string;
	now?: () => number;
	/** How often control requests and the deadline are polled while work runs. */
	pollMs?: number;
}

export interface AgentHooks {
	onSession(sessionFile: string | undefined): void;
	beforePrompt(): Promise<void>;
}

/** Records a side call (a review pass or a commit message) in the state, and its `review`/`commit_message` event. */
export function recordSideCall(run: RunContext, call: SideCall): void {
	run.state.calls ??= [];
	run.state.calls.push(call);
	const { iteration, item, role, model, usage, blocking, failed } = call;
	const type = call.kind === "review" ? "review" : "commit_message";
	run.event({ type, iteration, item, role, model, usage, cost: usage.cost, blocking, failed });
}

/** The outcome of an agent run that failed before or instead of answering. */
export function agentError(message: string): AgentOutcome {
	return { status: "error", error: message, text: "", usage: { ...ZERO_USAGE } };
}

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
		const reportPath = writeReport(deps.paths, state.runId, deps.renderReport(state));
		clearControl(deps.paths);
		await deps.view.onEnd(state, reportPath);
		return state;
	};
	const interrupted = (reason: "aborted" | "timeout"): StopDecision =>
		reason === "timeout"
			? { reason, detail: `loop time limit of ${Math.round((state.options.timeoutMs ?? 0) / 1000)}s reached` }
			: { reason, detail: "aborted by /loop abort" };

	const run: RunContext = {
		state,
		deps,
		signal: stopAll.signal,
		event,
		save,
		check: async () => {
			const result = await deps.runCheck(stopAll.signal);
			if (result.aborted) return undefined;
			const check = recordCheck(state, result);
			const { exitCode, durationMs, failures, timedOut, fingerprint, identity, failureIds, noTests } = check;
			event({ type: "check", exitCode, durationMs, failures, timedOut, fingerprint, identity, failureIds, noTests });
			save();
			await deps.view.onCheck(state, check);
			return check;
		},
	};

	try {
		if (!resume)
			event({ type: "run_start", preset: state.preset, check: state.check, goal: state.goal, options: state.options });
		else {
			clearControl(deps.paths); // a stop or abort aimed at the run before it died is void
			event({ type: "run_resume", iteration: state.history.length, elapsedMs: state.elapsedMs });
			if (state.current) await closeInterruptedIteration(state, deps, event);
		}
		save();

		let resumed = resume;
		for (;;) {
			const before = poll();
			if (before) return await end(interrupted(before));
			const verdict = await deps.workflow.begin(run, resumed);
			resumed = false;
			if (poll()) return await end(interrupted(interrupt ?? "aborted"));
			if (verdict) return await end(verdict);

			if (readControl(deps.paths, state.runId) === "stop")
				return await end({ reason: "stopped", detail: "stopped by /loop stop" });
			const limit = limitReached(state.history, state.checks, state.options);
			if (limit) return await end(limit);
			if (state.history.length >= state.options.max) {
				return await end({
					reason: "max-iterations",
					detail: `${state.options.max} iterations ran and the work is not done`,
				});
			}

			const record = await runIteration(run, await deps.workflow.prepare(run, state.history.length + 1));
			if (poll()) return await end(interrupted(interrupt ?? "aborted"));
			if (record.agent === "aborted") return await end({ reason: "aborted", detail: "the agent run was aborted" });
			const after = await deps.workflow.finish(run, record);
			if (poll()) return await end(interrupted(interrupt ?? "aborted"));
			if (after) return await end(after);
		}
	} finally {
		clearInterval(watcher);
	}
}

/** How many failure ids a check record (and its event) keeps; the count covers them all. */
const MAX_RECORDED_IDS = 20;

/** Adds a check result to the state and links it as the "after" check of the last iteration. */
export function recordCheck(state: LoopState, run: CheckRun): CheckRecord {
	const { identity, key, count } = identifyCheck(run.exitCode, run.output, run.cwd);
	const check: CheckRecord = {
		exitCode: run.exitCode,
		durationMs: run.durationMs,
		timedOut: run.timedOut,
		failures: count,
		fingerprint: key,
		identity: identity.kind,
		failureIds: identity.kind === "failures" ? identity.ids.slice(0, MAX_RECORDED_IDS) : undefined,
		noTests: identity.kind === "no-tests" ? identity.detail : undefined,
		tail: outputTail(run.output),
	};
	state.checks.push(check);
	const previous = state.history.at(-1);
	if (previous && previous.checkAfter === undefined) previous.checkAfter = state.checks.length - 1;
	return check;
}

/** A snapshot that could not be taken leaves "files changed" unknown (empty) instead of ending the run. */
async function trySnapshot<T>(
	what: string,
	take: () => Promise<T>,
	event: (e: LoopEvent) => void,
): Promise<T | undefined> {
	try {
		return await take();
	} catch (error) {
		event({ type: "snapshot_error", detail: `${what}: ${(error as Error).message}` });
		return undefined;
	}
}

async function runIteration(run: RunContext, plan: IterationPlan): Promise<IterationRecord> {
	const { state, deps, signal, event, save } = run;
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

	const role = plan.role ?? deps.role;
	const hooks: AgentHooks = {
		onSession: (sessionFile) => {
			current.sessionFile = sessionFile;
		},
		beforePrompt: async () => {
			const taken = await baselineTaken;
			if (taken?.kind === "git") current.baseline = taken.tree;
			save();
		},
	};
	// One agent turn never runs unbounded: past its limit it is aborted and counts as an agent error.
	const limitMs = state.options.iterationTimeoutMs;
	const overtime = new AbortController();
	const timer = setTimeout(() => overtime.abort(), limitMs);
	let outcome: AgentOutcome;
	try {
		if (plan.task !== undefined) deps.requestHydration?.(plan.prompt, plan.task, plan.failures);
		outcome = await deps.runAgent(plan.prompt, AbortSignal.any([signal, overtime.signal]), hooks, role);
	} catch (error) {
		outcome = agentError((error as Error).message);
	} finally {
		clearTimeout(timer);
	}
	if (overtime.signal.aborted && !signal.aborted) {
		outcome = {
			...outcome,
			status: "error",
			error: `the iteration exceeded its time limit of ${Math.round(limitMs / 1000)}s`,
		};
	}
	const baseline = await baselineTaken;
	const filesChanged = baseline ? ((await trySnapshot("changes", () => deps.changedSince(baseline), event)) ?? []) : [];
	const promiseMade =
		state.options.promise !== undefined && outcome.status === "ok" && hasPromise(outcome.text, state.options.promise);
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
		role,
		model: outcome.model,
		baseline: baseline?.kind === "git" ? baseline.tree : undefined,
	};
	state.history.push(record);
	state.current = undefined;
	event({
		type: "iteration_end",
		iteration: n,
		agent: record.agent,
		error: record.error,
		filesChanged,
		role,
		model: record.model,
		usage: record.usage,
		cost: record.usage.cost,
		promiseMade,
		durationMs: record.durationMs,
		session: record.sessionFile,
	});
	save();
	writeReport(deps.paths, state.runId, deps.renderReport(state));
	await deps.view.onIterationEnd(state, record);
	return record;
}

/** A run resumed after a crash: the iteration that was running is closed as "interrupted". */
async function closeInterruptedIteration(
	state: LoopState,
	deps: EngineDeps,
	event: (e: LoopEvent) => void,
): Promise<void> {
	const current = state.current;
	if (!current) return;
	const baseline: Snapshot | undefined = current.baseline ? { kind: "git", tree: current.baseline } : undefined;
	const filesChanged = baseline ? ((await trySnapshot("changes", () => deps.changedSince(baseline), event)) ?? []) : [];
	const usage = current.sessionFile && deps.recoverUsage ? deps.recoverUsage(current.sessionFile) : ZERO_USAGE;
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
		role: deps.role,
	};
	state.history.push(record);
	state.current = undefined;
	event({
		type: "iteration_end",
		iteration: record.n,
		role: deps.role,
		agent: "interrupted",
		filesChanged,
		usage,
		cost: usage.cost,
		session: current.sessionFile,
	});
}
