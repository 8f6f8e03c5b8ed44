/**
 * The /loop subcommands: start (until/tests/lint/types), resume, status,
 * stop, abort, report, help. Each validates everything before anything
 * runs and reports problems as CommandError with a process exit code.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExtensionAPI, ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { runCheck } from "../core/check-runner.ts";
import { UnknownRoleError } from "../roles/roles.ts";
import { type ModelChoice, setActiveRole, showRoleStatus, switchNow } from "../roles/switcher.ts";
import { ConfigError, type LoopConfig, loadConfig } from "../shared/config.ts";
import type { Thinking } from "../shared/model-spec.ts";
import { type Level, notify } from "../shared/notify.ts";
import { findService } from "../shared/services.ts";
import { shellWords } from "../shared/shell-quote.ts";
import { type LoopRequest, USAGE } from "./args.ts";
import { BlueprintLoadError, BlueprintNotFound } from "./blueprint/blueprint-errors.ts";
import { renderBlueprintReport } from "./blueprint/blueprint-report.ts";
import { describeCheck } from "./check-text.ts";
import { type AgentHooks, runLoop } from "./engine.ts";
import { IdleInput } from "./idle-input.ts";
import { IterationSessions, usageFromSessionFile } from "./iteration-session.ts";
import { acquireLock, isStale, readLock } from "./lock.ts";
import { createLoopView } from "./loop-view.ts";
import { defaultGoal } from "./prompt.ts";
import { renderReport } from "./report.ts";
import { createReviewer } from "./review.ts";
import { RoleRouter } from "./routing.ts";
import { defaultGoalFor, initialWork, resolveCheck, SetupError, startWork, workflowFor } from "./setup.ts";
import { isGitWorkTree, Snapshotter } from "./snapshot.ts";
import {
	ensureLoopDir,
	ensureRunDir,
	type LoopPaths,
	listRuns,
	loopPaths,
	pruneSnapshots,
	readRunState,
	readState,
	requestControl,
	runDir,
	snapshotDir,
} from "./store.ts";
import { DEFAULT_OPTIONS, type LoopOptions, type LoopState, succeeded, totalUsage, type WorkState } from "./types.ts";
import { formatCost, formatDuration } from "./view.ts";
import { type CommitMessageWriter, modelCommitWriter } from "./workflows/commit-message.ts";
import { loadInstructions } from "./workflows/instructions.ts";

/** A problem the user must fix; exitCode is what `pi -p` exits with. */
export class CommandError extends Error {
	constructor(
		message: string,
		readonly exitCode = 2,
	) {
		super(message);
	}
}

/**
 * Where a command's messages go: a notification with a UI, stderr without.
 * The command ctx goes stale once a loop replaces the session, so the
 * live context is looked up on every call.
 */
export class Output {
	readonly hasUI: boolean;
	private live: () => ExtensionCommandContext;

	constructor(ctx: ExtensionCommandContext) {
		this.hasUI = ctx.hasUI;
		this.live = () => ctx;
	}

	follow(live: () => ExtensionCommandContext): void {
		this.live = live;
	}

	say(text: string, level: Level = "info"): void {
		// Without a UI nothing session-bound is touched, so a stale context cannot get in the way.
		if (this.hasUI) notify(this.live(), text, level);
		else process.stderr.write(`${text}\n`);
	}

	/** In print/json mode, the process exit code: 0 success, 1 loop failure, 2 usage error. */
	exit(code: number): void {
		if (!this.hasUI) process.exitCode = code;
	}
}

function newRunId(): string {
	const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
	return `${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}

function readInstructions(cwd: string, file: string | undefined): string | undefined {
	if (file === undefined) return undefined;
	const path = isAbsolute(file) ? file : resolve(cwd, file);
	if (!existsSync(path)) throw new CommandError(`--prompt-file: ${path} does not exist`);
	if (!statSync(path).isFile()) throw new CommandError(`--prompt-file: ${path} is not a file`);
	const text = readFileSync(path, "utf8");
	if (text.trim() === "") throw new CommandError(`--prompt-file: ${path} is empty`);
	return text;
}

function freshState(
	runId: string,
	request: Extract<LoopRequest, { kind: "start" }>,
	check: { check: string; source: string },
	instructions: string | undefined,
	work: WorkState | undefined,
): LoopState {
	const base = { preset: request.preset, check: check.check };
	return {
		version: 1,
		runId,
		...base,
		checkSource: check.source,
		goal: request.goal ?? defaultGoalFor(request, work) ?? defaultGoal(base),
		instructions,
		options: request.options as LoopOptions,
		status: "running",
		startedAt: new Date().toISOString(),
		elapsedMs: 0,
		checks: [],
		history: [],
		pid: process.pid,
		work,
	};
}

const USAGE_PROBLEMS = [ConfigError, SetupError, UnknownRoleError, BlueprintNotFound, BlueprintLoadError];

function asUsage(error: unknown): unknown {
	return USAGE_PROBLEMS.some((type) => error instanceof type) ? new CommandError((error as Error).message) : error;
}

/** Configuration and setup problems are usage errors: exit 2, nothing runs. */
function prepared<T>(make: () => T): T {
	try {
		return make();
	} catch (error) {
		throw asUsage(error);
	}
}

/** `prepared` for work that is async: its usage problems become CommandErrors too. */
async function preparedAsync<T>(make: () => Promise<T>): Promise<T> {
	try {
		return await make();
	} catch (error) {
		throw asUsage(error);
	}
}

const NO_HOOKS: AgentHooks = { onSession: () => undefined, beforePrompt: async () => undefined };

/** The role iterations run under: --role, else plan for /loop plan and implement otherwise. */
function iterationRole(state: LoopState): string {
	return state.options.role ?? (state.preset === "plan" ? "plan" : "implement");
}

/** Resolves the run's roles up front: an unknown role is a usage error before anything runs. */
function routerFor(ctx: ExtensionCommandContext, out: Output, config: LoopConfig, state: LoopState): RoleRouter {
	const router = new RoleRouter(config.roles, ctx.modelRegistry, (message) => out.say(message, "warning"));
	prepared(() => {
		router.choice(iterationRole(state));
		if (state.options.review) router.choice("review");
	});
	return router;
}

function commitWriter(ctx: ExtensionCommandContext, router: RoleRouter): CommitMessageWriter | undefined {
	const choice = router.explicit("commit", ["smol"]);
	if (!choice) return undefined;
	const registry = ctx.modelRegistry;
	return modelCommitWriter(choice, async () => {
		const auth = await registry.getApiKeyAndHeaders(choice.model);
		return auth.ok ? { apiKey: auth.apiKey, headers: auth.headers } : {};
	});
}

/**
 * The user's own model, to run unrouted phases on and to restore at the end. Recorded in the
 * state, so a run resumed after a crash (which left pi's default at a role's model) restores it too.
 */
function userModelOf(pi: ExtensionAPI, ctx: ExtensionCommandContext, state: LoopState): ModelChoice | undefined {
	if (state.userModel) {
		const model = ctx.modelRegistry.find(state.userModel.provider, state.userModel.id);
		if (model) return { model, thinking: state.userModel.thinking as Thinking | undefined };
	}
	if (!ctx.model) return undefined;
	state.userModel = { provider: ctx.model.provider, id: ctx.model.id, thinking: pi.getThinkingLevel() };
	return { model: ctx.model, thinking: pi.getThinkingLevel() };
}

/** Runs the engine for a fresh or resumed state under the project lock; returns the final state. */
async function drive(
	pi: ExtensionAPI,
	ctx: ExtensionCommandContext,
	out: Output,
	paths: LoopPaths,
	state: LoopState,
	resume: boolean,
	config: LoopConfig,
): Promise<LoopState> {
	const router = routerFor(ctx, out, config, state);
	const userModel = userModelOf(pi, ctx, state);
	// With roles configured, a phase without a model of its own runs on the user's model explicitly:
	// pi starts a new session on whatever model was set last, which may be another role's.
	const routed = Object.keys(config.roles).length > 0;
	const modelFor = (role: string) => router.choice(role) ?? (routed ? userModel : undefined);
	const workflow = workflowFor(state, ctx.cwd, config, paths, commitWriter(ctx, router));
	const lock = acquireLock(paths.lock, state.runId);
	try {
		// Only the lock holder may touch shared loop files (snapshots of other runs, tasks.json).
		if (!resume) {
			pruneSnapshots(paths, state.runId);
			startWork(state, ctx.cwd, paths);
		}
		// A loop started while the agent is still answering waits for it rather than replacing its session mid-run.
		await ctx.waitForIdle();
		ensureRunDir(paths, state.runId);
		if (lock.tookOver)
			out.say(`took over a stale loop lock of pid ${lock.tookOver.pid} (run ${lock.tookOver.runId})`, "warning");
		const cwd = ctx.cwd;
		const snapshots = new Snapshotter(cwd, await isGitWorkTree(cwd), snapshotDir(paths, state.runId));
		const idle = new IdleInput((command) => {
			try {
				if (command === "status") out.say(statusText(cwd));
				else stopLoop(sessions.current, out, command);
			} catch (error) {
				out.say(`loop: ${(error as Error).message}`, "error");
			}
		});
		const sessions = new IterationSessions(ctx, (next) => idle.attach(next));
		idle.attach(ctx);
		out.follow(() => sessions.current);
		state.originSession ??= sessions.originSession;
		state.pid = process.pid;
		const hydration = findService("hydration");
		if (!hydration) {
			out.say(
				"loop: context hydration is off for this run — pi-loop-factory's hydrate extension is not loaded",
				"warning",
			);
		}
		const loopDone = findService("gates")?.loopStarted(cwd, state.check) ?? (() => undefined);
		try {
			return await runLoop(
				state,
				{
					paths,
					workflow,
					renderReport,
					requestHydration: hydration && ((prompt, task, failures) => hydration.request(cwd, prompt, task, failures)),
					runCheck: (signal) => runCheck(state.check, cwd, state.options.checkTimeoutMs, signal),
					snapshot: () => snapshots.take(),
					changedSince: (before) => snapshots.changedSince(before),
					role: iterationRole(state),
					runAgent: (prompt, signal, hooks, role) => sessions.run(prompt, signal, hooks, modelFor(role)),
					review: state.options.review
						? createReviewer({
								diffSince: (baseline) => snapshots.diffSince(baseline),
								run: (prompt, signal, role) => sessions.run(prompt, signal, NO_HOOKS, modelFor(role)),
								instructions: loadInstructions(cwd, "code-review").text,
								timeoutMs: state.options.iterationTimeoutMs,
							})
						: undefined,
					recoverUsage: usageFromSessionFile,
					view: createLoopView(pi, sessions, out.hasUI),
				},
				resume,
			);
		} finally {
			loopDone();
			// Kept while the run can still be resumed: its baseline tree lives there.
			if (state.status === "ended") snapshots.dispose();
			idle.detach();
			// The user's own model choice comes back, whatever the iterations ran on.
			if (userModel && routed) {
				try {
					await switchNow(userModel);
				} catch (error) {
					out.say(
						`loop: could not restore your model ${userModel.model.provider}/${userModel.model.id}: ` +
							`${(error as Error).message}`,
						"warning",
					);
				}
			}
			setActiveRole(undefined);
			try {
				showRoleStatus(sessions.current);
			} catch {
				// the session is gone (pi is shutting down)
			}
		}
	} finally {
		lock.release();
	}
}

function exitFor(state: LoopState): number {
	return succeeded(state) ? 0 : 1;
}

export async function startLoop(
	pi: ExtensionAPI,
	ctx: ExtensionCommandContext,
	out: Output,
	request: Extract<LoopRequest, { kind: "start" }>,
): Promise<void> {
	const paths = loopPaths(ctx.cwd);
	const config = prepared(() => loadConfig(ctx.cwd));
	const check = prepared(() => resolveCheck(ctx.cwd, request, config));
	if ((request.options.parallel ?? 1) > 1) return startParallel(pi, ctx, out, request, config, check.check);
	const custom = readInstructions(ctx.cwd, request.options.promptFile);
	const named =
		request.preset === "plan" ? "plan" : request.preset === "build" || request.preset === "prd" ? "build" : undefined;
	const instructions = custom ?? (named ? loadInstructions(ctx.cwd, named).text : undefined);
	ensureLoopDir(paths);
	const work = prepared(() => initialWork(ctx.cwd, request, config, paths));
	warnInterrupted(out, paths);
	const state = freshState(newRunId(), request, check, instructions, work);
	out.exit(exitFor(await drive(pi, ctx, out, paths, state, false, config)));
}

/**
 * `/loop build|prd --parallel N`: the shipped parallel-items blueprint on the plan or PRD — N items at a time, each
 * in its own worktree, merged back in plan order with the project's checks, ticked and committed once merged.
 */
async function startParallel(
	pi: ExtensionAPI,
	ctx: ExtensionCommandContext,
	out: Output,
	request: Extract<LoopRequest, { kind: "start" }>,
	config: LoopConfig,
	check: string,
): Promise<void> {
	const o = request.options;
	if (o.review) throw new CommandError("--review does not combine with --parallel (yet): leave out one of them");
	if (o.noCommit) throw new CommandError("--parallel commits each item as it is merged: leave out --no-commit");
	const work = prepared(() => initialWork(ctx.cwd, request, config, loopPaths(ctx.cwd)));
	if (!work) throw new CommandError(`--parallel is for /loop build and /loop prd`);
	const { PACKAGE_BLUEPRINTS } = await import("./blueprint/catalog.ts");
	const instructions = o.promptFile ?? loadInstructions(ctx.cwd, "build").source;
	const args = [work.file, "--parallel", String(o.parallel), "--attempts", String(config.build.attempts)];
	args.push("--check", check, "--instructions", instructions, "--hydrate");
	out.say(`loop ${request.preset} --parallel ${o.parallel}: running the parallel-items blueprint on ${work.file}`);
	// --max bounds the agent runs, as it bounds iterations one item at a time.
	const options = { ...o, maxSpawns: o.max };
	await runBlueprint(pi, ctx, out, { kind: "run", file: join(PACKAGE_BLUEPRINTS, "parallel-items.ts"), args, options });
}

/**
 * `/loop issues` / `/loop issue <n>`: the intake (intake/run-intake.ts) as a blueprint run, so status, stop, abort,
 * resume, the report and the exit codes are those of any run. Its spawn limit covers every task's iterations.
 */
export async function startIntake(
	pi: ExtensionAPI,
	ctx: ExtensionCommandContext,
	out: Output,
	request: Extract<LoopRequest, { kind: "intake" }>,
): Promise<void> {
	const o = request.options;
	const tasks = o.issue === undefined ? o.limit : 1;
	const options = { ...DEFAULT_OPTIONS, maxSpawns: tasks * (o.max + (o.review ? 1 : 0)), concurrency: o.parallel };
	const file = join(dirname(fileURLToPath(import.meta.url)), "intake", "run-intake.ts");
	const args = request.one ? ["--one", ...request.args] : request.args;
	await runBlueprint(pi, ctx, out, { kind: "run", file, args, options });
}

/** `/loop run`: the listing without a blueprint; otherwise resolve and check the script, then run it. */
export async function runBlueprint(
	pi: ExtensionAPI,
	ctx: ExtensionCommandContext,
	out: Output,
	request: Extract<LoopRequest, { kind: "run" }>,
): Promise<void> {
	const blueprint = await import("./blueprint/run-blueprint.ts");
	const { blueprintListing, driveBlueprint, freshBlueprintState, loadableBlueprint } = blueprint;
	if (request.file === undefined) return out.say(blueprintListing(ctx.cwd));
	const given = request.file;
	const file = prepared(() => loadableBlueprint(ctx.cwd, given));
	const config = prepared(() => loadConfig(ctx.cwd));
	const paths = loopPaths(ctx.cwd);
	ensureLoopDir(paths);
	warnInterrupted(out, paths);
	const state = freshBlueprintState(newRunId(), file, request);
	out.exit(await preparedAsync(() => driveBlueprint(pi, ctx, out, paths, state, false, config)));
}

function warnInterrupted(out: Output, paths: LoopPaths): void {
	const previous = readState(paths);
	if (previous?.status === "running" && isStale(readLock(paths.lock))) {
		out.say(
			`starting a new run; the interrupted run ${previous.runId} stays on record in ${runDir(paths, previous.runId)}`,
			"warning",
		);
	}
}

export async function resumeLoop(pi: ExtensionAPI, ctx: ExtensionCommandContext, out: Output): Promise<void> {
	const paths = loopPaths(ctx.cwd);
	const state = readState(paths);
	if (!state) throw new CommandError("no loop run to resume in this project (.pi/loop/state.json does not exist)");
	if (state.status === "ended") {
		throw new CommandError(`the last run ${state.runId} already ended (${state.reason}); start a new loop instead`);
	}
	// A run recorded by an older version lacks settings added since: they take their defaults.
	state.options = { ...DEFAULT_OPTIONS, ...state.options };
	const config = prepared(() => loadConfig(ctx.cwd));
	if (state.blueprint) {
		const { driveBlueprint, loadableBlueprint } = await import("./blueprint/run-blueprint.ts");
		const file = state.blueprint.file;
		out.say(`resuming blueprint run ${state.runId}: the script starts over, finished steps replay from its journal`);
		prepared(() => loadableBlueprint(ctx.cwd, file));
		out.exit(await preparedAsync(() => driveBlueprint(pi, ctx, out, paths, state, true, config)));
		return;
	}
	out.say(`resuming run ${state.runId} after ${state.history.length} of ${state.options.max} iterations`);
	out.exit(exitFor(await drive(pi, ctx, out, paths, state, true, config)));
}

function runningState(paths: LoopPaths): LoopState {
	const state = readState(paths);
	if (state?.status !== "running") throw new CommandError("no loop is running in this project", 1);
	const holder = readLock(paths.lock);
	if (isStale(holder) || holder?.runId !== state.runId) {
		throw new CommandError(`run ${state.runId} was interrupted and is not running; continue it with /loop resume`, 1);
	}
	return state;
}

export function stopLoop(ctx: ExtensionCommandContext, out: Output, how: "stop" | "abort"): void {
	const paths = loopPaths(ctx.cwd);
	const state = runningState(paths);
	requestControl(paths, state.runId, how);
	if (how === "abort") {
		// The engine aborts within a poll; aborting here too is immediate, but only for a loop of this process.
		if (readLock(paths.lock)?.pid === process.pid && !ctx.isIdle()) ctx.abort();
		out.say(`abort requested: run ${state.runId} ends now`, "warning");
	} else {
		out.say(`stop requested: run ${state.runId} ends after the current iteration`);
	}
}

export function statusText(cwd: string): string {
	const paths = loopPaths(cwd);
	const state = readState(paths);
	if (!state) return "no loop has run in this project yet";
	const holder = readLock(paths.lock);
	const live = state.status === "running" && !isStale(holder) && holder?.runId === state.runId;
	const condition =
		state.status === "ended"
			? `ended: ${state.reason}${state.detail ? ` (${state.detail})` : ""}`
			: live
				? `running (pid ${holder?.pid})`
				: "interrupted — /loop resume continues it";
	if (state.blueprint) {
		const b = state.blueprint;
		return [
			`loop run · run ${state.runId} · ${condition}`,
			`blueprint: ${b.file}${b.args.length > 0 ? ` -- ${shellWords(b.args)}` : ""}`,
			`spawns: ${b.spawns.length}/${state.options.maxSpawns ?? "?"} · commands: ${b.execs.length} · ` +
				`${formatDuration(state.elapsedMs)} · ${formatCost(totalUsage(state).cost)}`,
			`report: ${join(runDir(paths, state.runId), "report.md")}`,
		].join("\n");
	}
	const last = state.checks.at(-1);
	const check = last ? `last run ${describeCheck(last)}` : "not run yet";
	const inProgress = state.current ? ` (iteration ${state.current.n} in progress)` : "";
	return [
		`loop ${state.preset} · run ${state.runId} · ${condition}`,
		`check: ${state.check} — ${check}`,
		`iterations: ${state.history.length}/${state.options.max}${inProgress} · ` +
			`${formatDuration(state.elapsedMs)} · ${formatCost(totalUsage(state).cost)}`,
		`report: ${join(runDir(paths, state.runId), "report.md")}`,
	].join("\n");
}

export function reportText(cwd: string, runId: string | undefined): string {
	const paths = loopPaths(cwd);
	const runs = listRuns(paths);
	const id = runId ?? readState(paths)?.runId ?? runs.at(-1);
	if (!id) throw new CommandError("no loop runs recorded in this project yet", 1);
	if (!runs.includes(id)) throw new CommandError(`no run "${id}"; recorded runs: ${runs.join(", ") || "none"}`);
	const file = join(runDir(paths, id), "report.md");
	if (existsSync(file)) return readFileSync(file, "utf8");
	const state = readRunState(paths, id);
	if (!state) throw new CommandError(`run ${id} has no report and its state file is missing or unreadable`, 1);
	return state.blueprint ? renderBlueprintReport(state) : renderReport(state);
}

/** `/loop worktrees [prune]`: what isolated spawns left, and (prune) removing what is proven merged. */
export async function worktreesText(cwd: string, prune: boolean): Promise<string> {
	const { repositoryRoot } = await import("./blueprint/isolation.ts");
	const { readWorktrees, removeMerged } = await import("../core/worktrees.ts");
	const { isMerged } = await import("../core/git.ts");
	const root = await repositoryRoot(cwd);
	if (!root) throw new CommandError("not a git repository with a commit: there are no loop worktrees here");
	const records = readWorktrees(root).filter((r) => r.state !== "removed");
	if (records.length === 0) return "no loop worktrees in this repository";
	const merged = new Map<string, boolean>();
	for (const r of records)
		merged.set(r.branch, Boolean(r.commit) && (await isMerged(root, r.commit ?? r.base).catch(() => false)));
	const removed = new Set(
		prune
			? (
					await removeMerged(
						root,
						records.filter((r) => merged.get(r.branch)),
					)
				).removed.map((r) => r.branch)
			: [],
	);
	const lines: string[] = [];
	for (const r of records) {
		if (removed.has(r.branch)) {
			lines.push(`removed  ${r.branch} (merged)`);
			continue;
		}
		const state = merged.get(r.branch) ? "merged" : r.state;
		const review = ["conflict", "check-failed", "blocked"].includes(state) ? " · needs review" : "";
		lines.push(`${state.padEnd(12)} ${r.branch}  ${r.path}${review}${r.detail ? ` — ${r.detail}` : ""}`);
	}
	const head = prune ? "loop worktrees (merged ones removed; the rest kept):" : "loop worktrees:";
	return [head, ...lines].join("\n");
}

export const HELP_TEXT = USAGE;
