/**
 * The blueprint scripting API (`factory`), as script authors see it: every
 * option and result type of spawn, exec, check, loop, hydrate and observe.
 * Types only — `import type { Factory } from "pi-loop-factory"` resolves here;
 * the implementation is the blueprint runner's (loop/blueprint/).
 */

export type LogLevel = "debug" | "info" | "warning" | "error";
export type ThinkingLevel = "off" | "minimal" | "low" | "medium" | "high" | "xhigh";

export interface SpawnOptions {
	/** The task given to the fresh agent session. */
	prompt: string;
	/** Names the spawn in logs and UI; `.pi/agents/<agent>.md` supplies defaults when it exists. */
	agent?: string;
	/** Appended to pi's system prompt (tools and project context stay). */
	systemPrompt?: string;
	/** `provider/model[:thinking]` or a role name; unusable models fall back along the role chain. */
	model?: string;
	/** Model role when no model is given (default: implement). */
	role?: string;
	thinking?: ThinkingLevel;
	/** Tool names the agent may use (default: pi's default tools). */
	tools?: string[];
	/** Per-spawn time limit in ms (default 30 min); past it the agent is aborted and exitCode is 1. */
	timeout?: number;
	/** Adds the hydration block (specs, plan, AGENTS.md) for the prompt, or for this task text. */
	hydrate?: boolean | string;
	/**
	 * "write" (default): the on-write gates only. "all": when the agent finishes, the on-done gates (tests, lint,
	 * types) run on its changes too, and their failures go back into the same session as fix rounds (gates.rounds).
	 */
	gates?: "write" | "all";
	/**
	 * "worktree": the agent works in its own git worktree on branch `loop/<run>/<step>`, made from your HEAD and
	 * kept outside the project; its changes are committed there and `factory.merge` brings them back.
	 */
	isolation?: "worktree";
	/**
	 * A named check or a command run where the agent worked (its worktree, for isolated spawns) once it finished
	 * normally, before the work is committed. The outcome comes back as `check`; a failed check does not fail the
	 * spawn — the script decides (parallel-items does not merge such an item and tries it again).
	 */
	check?: CheckName | string;
	/**
	 * The folder the agent works in, relative to the project or absolute (a worktree the script made): its tools,
	 * gates and `check` run there. Default: the project. Not with `isolation`.
	 */
	cwd?: string;
	/** A label for the step (a number or text), recorded with the result. */
	step?: number | string;
	/** Aborts this spawn only. */
	signal?: AbortSignal;
}

export interface Usage {
	input: number;
	output: number;
	cacheRead: number;
	cacheWrite: number;
	cost: number;
}

export interface SpawnResult {
	/** 0: the agent finished normally; 1: provider error, abort, timeout or budget. */
	exitCode: 0 | 1;
	/** The agent's final answer. */
	text: string;
	errorMessage?: string;
	/** How the last model call ended: stop, length, toolUse, error, aborted, timeout. */
	stopReason: string;
	usage: Usage;
	/** Dollars, the same as usage.cost. */
	cost: number;
	/** provider/model that answered ("" when no call was made). */
	model: string;
	/** The role the model was resolved from ("" when a model was named directly). */
	role: string;
	durationMs: number;
	/** Project-relative paths the agent wrote or edited. */
	filesChanged: string[];
	agent: string;
	step?: number | string;
	/** True when the result came from the run's journal (a resumed run), not a live call. */
	replayed?: boolean;
	/** Isolated spawns: the branch, the commit holding the agent's changes, and `git diff --stat` of them. */
	branch?: string;
	commit?: string;
	diffStat?: string;
	/** The `check` option's outcome (absent when there was none, or the agent did not finish normally). */
	check?: SpawnCheck;
}

export interface SpawnCheck {
	command: string;
	passed: boolean;
	exitCode: number;
	timedOut: boolean;
	/** The end of its output (at most 4 kB). */
	output: string;
}

export interface MergeOptions {
	/** Runs on the integrated result before your branch moves: a named check or a command. */
	check?: CheckName | string;
}

export interface MergeResult {
	branch: string;
	commit: string;
	/**
	 * merged: in your branch now (worktree and branch removed); conflict / check-failed: not merged, branch kept;
	 * blocked: your uncommitted changes touch its files, HEAD is detached, or git refused — branch kept.
	 */
	status: "merged" | "conflict" | "check-failed" | "blocked";
	detail?: string;
	/** Conflicting files (conflict). */
	files?: string[];
}

export interface ExecOptions {
	/** ms; default 10 min. The whole process group is killed on timeout. */
	timeout?: number;
	/** Relative to the project; default the project. */
	cwd?: string;
}

export interface ExecResult {
	exitCode: number;
	stdout: string;
	stderr: string;
	/** stdout and stderr interleaved as printed. */
	output: string;
	durationMs: number;
	timedOut: boolean;
	replayed?: boolean;
}

export interface CheckResult extends ExecResult {
	/** The command that ran (a named check resolves to the project's command). */
	command: string;
	passed: boolean;
	/** The runner found no tests (its words). */
	noTests?: string;
	/** Parsed failure ids (test names, file:rule:message), sorted. */
	failures: string[];
	/** Failure identity key: two results with the same key failed the same way. */
	fingerprint: string;
}

export type CheckName = "tests" | "lint" | "types";

export interface LoopSpec {
	/** What decides "done": a named check or a command. */
	check: CheckName | string;
	/** The agent's task each iteration (the check's failures are added), or a function making the spawn. */
	prompt?: string;
	spawn?: (iteration: number, last: CheckResult) => SpawnOptions | Promise<SpawnResult>;
	/** Iteration limit (default 10). */
	max?: number;
	/** Stop after this many iterations without progress (default 3). */
	stagnation?: number;
	/** Stop after the same failure this many times in a row (default 5). */
	sameFailure?: number;
	/** Stop after this many agent failures in a row (default 2). */
	maxFailures?: number;
	/** Where the check runs and (with `prompt`) the agent works: relative to the project or absolute. */
	cwd?: string;
}

/** stagnation: no progress, or the same failure again and again (the loop engine's rules); failures: agent errors. */
export type LoopEndReason = "passed" | "max-iterations" | "stagnation" | "failures";

export interface LoopOutcome {
	reason: LoopEndReason;
	iterations: number;
	last: CheckResult;
}

export interface Budget {
	/** Dollars spent by the run so far (replayed steps included: they were paid once). */
	spent: number;
	/** Dollars left under --max-cost (Infinity without it). */
	remaining: number;
	spawns: number;
	/** Spawns left under --max-spawns. */
	spawnsRemaining: number;
}

export interface Observe {
	log(level: LogLevel, message: string, data?: unknown): void;
	/** Starts a named phase: shown in the widget and the report. */
	phase(title: string): void;
	metric(name: string, value: number): void;
}

export interface Factory {
	spawn(options: SpawnOptions): Promise<SpawnResult>;
	exec(command: string, options?: ExecOptions): Promise<ExecResult>;
	check(check: CheckName | string, options?: ExecOptions): Promise<CheckResult>;
	loop(spec: LoopSpec): Promise<LoopOutcome>;
	/** Brings isolated spawns' branches into your current branch, in the order given (see MergeResult). */
	merge(results: SpawnResult[], options?: MergeOptions): Promise<MergeResult[]>;
	/** The hydration block for a task (specs, plan, AGENTS.md), within `budget` tokens. */
	hydrate(task: string, options?: { budget?: number }): Promise<string>;
	observe: Observe;
	/** A JSON object saved with the run (state.json and the report). */
	state: Record<string, unknown>;
	/** Arguments after `--` on the command line. */
	args: string[];
	runId: string;
	/** Aborted by /loop abort, Esc, or the run's --timeout. */
	signal: AbortSignal;
	readonly budget: Budget;
}

/** The typed script form: `export default async function (factory, args) { … }`. */
export type Blueprint = (factory: Factory, args: string[]) => unknown;
