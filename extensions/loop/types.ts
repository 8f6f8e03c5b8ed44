/**
 * The loop's data model: its options (the argument parser produces them),
 * what state.json holds and what the engine records about every check run
 * and iteration.
 */
import { addUsage, ZERO_USAGE } from "../core/agent-messages.ts";
import type { Usage } from "../core/factory-api.ts";
import type { FailureIdentity } from "../core/failure-identity.ts";

export type Preset = "until" | "tests" | "lint" | "types" | "plan" | "build" | "prd" | "run";

export interface LoopOptions {
	max: number;
	stagnation: number;
	maxFailures: number;
	sameFailure: number;
	/** Whole-loop time limit; undefined = bounded by iterations only. */
	timeoutMs?: number;
	checkTimeoutMs: number;
	/** Time limit of one agent turn (an iteration or a review pass); past it the turn is aborted as an agent error. */
	iterationTimeoutMs: number;
	promptFile?: string;
	promise?: string;
	/** build/prd: leave finished items uncommitted. */
	noCommit?: boolean;
	/** Model role for the iterations (default: plan for /loop plan, implement otherwise). */
	role?: string;
	/** build/until: a review pass on the review model after the checks pass. */
	review?: boolean;
	/** build/prd: items worked at once, each in its own worktree (the parallel-items blueprint); 1 = one at a time. */
	parallel?: number;
	/** Blueprints (/loop run): spawns running at once, spawn limit, dollar limit, unusable models are errors. */
	concurrency?: number;
	maxSpawns?: number;
	maxCost?: number;
	strictModels?: boolean;
}

export const DEFAULT_OPTIONS: LoopOptions = {
	max: 10,
	stagnation: 3,
	maxFailures: 2,
	sameFailure: 5,
	checkTimeoutMs: 10 * 60_000,
	iterationTimeoutMs: 30 * 60_000,
};

/** Blueprint runs' limits unless flags say otherwise. */
export const RUN_DEFAULTS = { concurrency: 4, maxSpawns: 50 } as const;

export type EndReason =
	| "passed"
	| "promise"
	| "max-iterations"
	| "stagnation"
	| "failures"
	| "timeout"
	| "stopped"
	| "aborted"
	| "plan-stable"
	| "plan-complete"
	| "prd-complete"
	// blueprints (/loop run): the script returned, threw, or a spawn was refused past a limit
	| "completed"
	| "failed"
	| "budget";

export const SUCCESS_REASONS: readonly EndReason[] = [
	"passed",
	"promise",
	"plan-stable",
	"plan-complete",
	"prd-complete",
	"completed",
];

/** Success: a success reason, and (build/prd) no item left blocked. */
export function succeeded(state: Pick<LoopState, "reason" | "work">): boolean {
	const blocked = Math.max(state.work?.blocked.length ?? 0, state.work?.blockedInFile?.length ?? 0);
	return state.reason !== undefined && SUCCESS_REASONS.includes(state.reason) && blocked === 0;
}

export interface CheckRecord {
	exitCode: number;
	durationMs: number;
	timedOut: boolean;
	/** Failure count: the parsed failures, else a total the tool printed; 0 when passing. */
	failures?: number;
	/** Failure identity key: two checks with the same key failed the same way (see failure-identity.ts). */
	fingerprint: string;
	/** What the key rests on; absent in runs recorded before failure identity existed. */
	identity?: FailureIdentity["kind"];
	/** The parsed failure ids, the first MAX_RECORDED_IDS of them. */
	failureIds?: string[];
	/** The runner found no tests: its words. */
	noTests?: string;
	/** Last ~5 KB of output, ANSI stripped (what the next iteration is shown). */
	tail: string;
}

export { addUsage, ZERO_USAGE } from "../core/agent-messages.ts";
export type { Usage } from "../core/factory-api.ts";

export type AgentStatus = "ok" | "error" | "aborted" | "interrupted";

export interface IterationRecord {
	n: number;
	startedAt: string;
	durationMs: number;
	agent: AgentStatus;
	error?: string;
	filesChanged: string[];
	usage: Usage;
	/** First line(s) of the agent's final answer: what it says it tried. */
	summary: string;
	promiseMade: boolean;
	/** Index into LoopState.checks of the check the iteration started from. */
	checkBefore: number;
	/** Index of the check that ran after it (set when that check runs). */
	checkAfter?: number;
	sessionFile?: string;
	/** Model role the iteration ran under, and the provider/model that answered. */
	role?: string;
	model?: string;
	/** Git tree the iteration started from (for review diffs). */
	baseline?: string;
	/** Build loops: the iteration's item was verified and ticked (counts as progress). */
	completed?: boolean;
}

/** A model call besides the iterations: a review pass or a commit message, with its role and cost. */
export interface SideCall {
	kind: "review" | "commit-message";
	iteration: number;
	item?: string;
	role: string;
	model?: string;
	usage: Usage;
	/** Reviews: whether it blocked, and what it found. */
	blocking?: boolean;
	findings?: string;
	/** The call did not complete (error or abort), and whether it was aborted. */
	failed?: boolean;
	aborted?: boolean;
}

export interface LoopState {
	version: 1;
	runId: string;
	preset: Preset;
	check: string;
	checkSource: string;
	goal: string;
	/** Custom iteration instructions (from --prompt-file), kept so resume uses the same. */
	instructions?: string;
	options: LoopOptions;
	status: "running" | "ended";
	reason?: EndReason;
	detail?: string;
	startedAt: string;
	endedAt?: string;
	/** Loop time used so far (across resumes), for --timeout. */
	elapsedMs: number;
	checks: CheckRecord[];
	history: IterationRecord[];
	/** The iteration currently running, if any (so a crash leaves a trace). */
	current?: { n: number; startedAt: string; baseline?: string; sessionFile?: string };
	originSession?: string;
	pid: number;
	/** Plan/build/prd loops: where the work stands. */
	work?: WorkState;
	/** Review passes and commit messages. */
	calls?: SideCall[];
	/** Findings of a blocking review, handed to the next iteration. */
	reviewFindings?: string;
	/** The model the user had when the run started (restored when it ends). */
	userModel?: { provider: string; id: string; thinking?: string };
	/** Blueprint runs (/loop run): the script and what its steps did. */
	blueprint?: BlueprintState;
}

/** One factory.spawn of a blueprint run. */
export interface SpawnRecord {
	position: number;
	agent: string;
	step?: number | string;
	model: string;
	role: string;
	exitCode: 0 | 1;
	stopReason: string;
	error?: string;
	usage: Usage;
	durationMs: number;
	filesChanged: string[];
	/** Returned from the journal on resume: no model call. */
	replayed?: boolean;
	/** Isolated spawns: the branch holding the work. */
	branch?: string;
	/** The spawn's `check` option: ran where the agent worked; passed or not. */
	check?: { command: string; passed: boolean };
}

/** One branch's outcome in a factory.merge. */
export interface MergeRecord {
	position: number;
	branch: string;
	status: "merged" | "conflict" | "check-failed" | "blocked";
	detail?: string;
}

/** One factory.exec or factory.check. */
export interface ExecRecord {
	position: number;
	kind: "exec" | "check";
	command: string;
	exitCode: number;
	durationMs: number;
	timedOut: boolean;
	failures?: number;
	replayed?: boolean;
}

export interface LogRecord {
	level: "debug" | "info" | "warning" | "error";
	message: string;
	data?: unknown;
	at: string;
}

export interface BlueprintState {
	/** The script, absolute, and the arguments after `--`. */
	file: string;
	args: string[];
	/** How many times the script has been started (1 + resumes). */
	attempts: number;
	spawns: SpawnRecord[];
	execs: ExecRecord[];
	/** factory.merge outcomes, one per branch merged (absent in runs recorded before merges were kept). */
	merges?: MergeRecord[];
	logs: LogRecord[];
	phases: string[];
	metrics: Record<string, number>;
	/** factory.state as the script left it. */
	values: Record<string, unknown>;
	/** What earlier attempts spent live (a resumed run's replayed spawns are part of it): limits and totals count it. */
	earlier?: { spawns: number; usage: Usage };
}

/** The usage of the spawns a blueprint run paid for: earlier attempts', then this attempt's live ones. */
export function blueprintUsage(b: BlueprintState): Usage {
	const live = b.spawns.filter((s) => !s.replayed);
	return live.reduce((sum, s) => addUsage(sum, s.usage), b.earlier?.usage ?? ZERO_USAGE);
}

export interface WorkState {
	/** The checklist worked through: the plan file, or the PRD (with .pi/loop/tasks.json). */
	source: "plan" | "prd";
	file: string;
	/** Item text of the task in progress. */
	current?: string;
	/** Failed verification attempts per item text. */
	attempts: Record<string, number>;
	/** Review rounds run per item text (--review). */
	reviews?: Record<string, number>;
	done: string[];
	blocked: { item: string; reason: string }[];
	/** Open items, and items marked blocked in the file (by any run), as of the last cycle. */
	remaining?: string[];
	blockedInFile?: { item: string; reason: string }[];
	/** Items done when the current iteration started (to spot ticks the agent made). */
	doneBefore?: string[];
	/** Files changed for the current item across its attempts (committed with it). */
	pendingFiles?: string[];
	commit: boolean;
	/** Plan loops: hash of the plan file when the iteration started, and the specs folder. */
	planHash?: string;
	specsDir?: string;
}

export function totalUsage(state: LoopState): Usage {
	const spawns = state.blueprint ? blueprintUsage(state.blueprint) : ZERO_USAGE;
	const iterations = state.history.reduce((sum, it) => addUsage(sum, it.usage), spawns);
	return (state.calls ?? []).reduce((sum, c) => addUsage(sum, c.usage), iterations);
}
