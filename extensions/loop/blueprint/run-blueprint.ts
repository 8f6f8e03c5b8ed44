/**
 * `/loop run <blueprint> [flags] [-- args]` and its resume: resolves and
 * checks the script, takes the project lock, wires the factory to pi
 * (in-process agent sessions, role routing, checks, hydration), runs the
 * script, and records state, events, journal and report like any loop run.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExtensionAPI, ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { hostExtensionFlags, runAgentSession, type SpawnHost } from "../../core/agent-spawn.ts";
import { RunBudget } from "../../core/budget.ts";
import { runCheck } from "../../core/check-runner.ts";
import { type CheckKind, detectCheck } from "../../core/detect-checks.ts";
import { Journal } from "../../core/journal.ts";
import { Limiter } from "../../core/limiter.ts";
import type { LoopConfig } from "../../shared/config.ts";
import { findService } from "../../shared/services.ts";
import type { LoopRequest } from "../args.ts";
import type { LoopEvent } from "../events.ts";
import { acquireLock } from "../lock.ts";
import { RoleRouter } from "../routing.ts";
import { appendEvent, clearControl, ensureRunDir, type LoopPaths, runDir, saveState, writeReport } from "../store.ts";
import { type BlueprintState, blueprintUsage, type EndReason, type LoopState, RUN_DEFAULTS } from "../types.ts";
import { loadAgentProfile } from "./agent-profile.ts";
import { BlueprintLoadError } from "./blueprint-errors.ts";
import { blueprintSummary, renderBlueprintReport } from "./blueprint-report.ts";
import { blueprintView } from "./blueprint-view.ts";
import { listBlueprints, resolveBlueprint } from "./catalog.ts";
import { createFactory } from "./factory.ts";
import { repositoryRoot, worktreeIsolation } from "./isolation.ts";
import { modelResolver, RunControls } from "./run-controls.ts";
import { checkSyntax, runScript } from "./script-loader.ts";

/** The package root: spawns load this package's extensions (pi's loader drops a second copy). */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const read = (file: string) => readFileSync(file, "utf8");

export type RunRequest = Extract<LoopRequest, { kind: "run" }>;

/** Where messages go and what the command reports back (the command module's Output). */
export interface RunOutput {
	readonly hasUI: boolean;
	say(text: string, level?: "info" | "warning" | "error"): void;
}

export function blueprintListing(cwd: string): string {
	const entries = listBlueprints(cwd, read);
	if (entries.length === 0) return "no blueprints found in .pi/blueprints/ or the package's blueprints/";
	const width = Math.max(...entries.map((e) => e.name.length));
	return [
		"blueprints (/loop run <name> [flags] [-- args]):",
		...entries.map((e) => `  ${e.name.padEnd(width)}  ${e.source === "project" ? "[project] " : ""}${e.summary ?? ""}`),
	].join("\n");
}

export function freshBlueprintState(runId: string, file: string, request: RunRequest): LoopState {
	const blueprint: BlueprintState = {
		file,
		args: request.args,
		attempts: 0,
		spawns: [],
		execs: [],
		logs: [],
		phases: [],
		metrics: {},
		values: {},
	};
	return {
		version: 1,
		runId,
		preset: "run",
		check: "",
		checkSource: "the blueprint's own checks",
		goal: `run the blueprint ${file}`,
		options: {
			...request.options,
			concurrency: request.options.concurrency ?? RUN_DEFAULTS.concurrency,
			maxSpawns: request.options.maxSpawns ?? RUN_DEFAULTS.maxSpawns,
		},
		status: "running",
		startedAt: new Date().toISOString(),
		elapsedMs: 0,
		checks: [],
		history: [],
		pid: process.pid,
		blueprint,
	};
}

/** The script a `/loop run` names, checked to parse (BlueprintNotFound / BlueprintLoadError otherwise). */
export function loadableBlueprint(cwd: string, given: string): string {
	const file = resolveBlueprint(cwd, given, read);
	checkSyntax(file);
	return file;
}

/** First stack frame inside the script, as file:line:column. */
function whereInScript(error: unknown, file: string): string | undefined {
	const stack = (error as Error | undefined)?.stack ?? "";
	const line = stack.split("\n").find((l) => l.includes(file));
	const m = line && /(\d+):(\d+)\)?\s*$/.exec(line);
	return m ? `${file}:${m[1]}:${m[2]}` : undefined;
}

interface Ending {
	reason: EndReason;
	detail: string;
	/** Print-mode exit code. */
	exit: number;
}

/** How the run ended, from what the script did and what ended it from outside. */
function endingOf(
	error: unknown,
	file: string,
	controls: RunControls,
	budget: RunBudget,
	stepsStarted: boolean,
	timeoutMs: number | undefined,
): Ending {
	const signal = controls.controller.signal;
	if (budget.exceeded) return { reason: "budget", detail: budget.exceeded, exit: 1 };
	if (signal.aborted)
		return signal.reason === "timeout"
			? { reason: "timeout", detail: `run time limit of ${Math.round((timeoutMs ?? 0) / 1000)}s reached`, exit: 1 }
			: { reason: "aborted", detail: "aborted by /loop abort or Esc", exit: 1 };
	if (controls.refusedByStop) return { reason: "stopped", detail: "stopped by /loop stop", exit: 1 };
	if (error === undefined) return { reason: "completed", detail: "", exit: 0 };
	const message = error instanceof Error ? error.message : String(error);
	// A module that cannot be found before any step ran is a usage error (nothing ran); later, a failure.
	if (error instanceof BlueprintLoadError && !stepsStarted) return { reason: "failed", detail: message, exit: 2 };
	// A script's own usage or configuration error (an Error named "UsageError"): exit 2, as for the loop's own.
	if (error instanceof Error && error.name === "UsageError") return { reason: "failed", detail: message, exit: 2 };
	const where = whereInScript(error, file);
	return { reason: "failed", detail: `${message}${where ? ` (at ${where})` : ""}`, exit: 1 };
}

/** Runs (or resumes) the blueprint of `state` under the project lock; returns the print-mode exit code. */
export async function driveBlueprint(
	pi: ExtensionAPI,
	ctx: ExtensionCommandContext,
	out: RunOutput,
	paths: LoopPaths,
	state: LoopState,
	resume: boolean,
	config: LoopConfig,
): Promise<number> {
	const b = state.blueprint as BlueprintState;
	const cwd = ctx.cwd;
	const role = state.options.role ?? "implement";
	const router = new RoleRouter(config.roles, ctx.modelRegistry, (m) => out.say(`loop: ${m}`, "warning"));
	router.choice(role); // an unknown --role is a usage error before anything runs (the caller makes it one)
	const repoRoot = await repositoryRoot(cwd);
	const flags = hostExtensionFlags(process.argv, process.cwd());
	const host: SpawnHost = {
		cwd,
		modelRegistry: ctx.modelRegistry,
		extensionPaths: [PACKAGE_ROOT, ...flags.paths],
		noExtensions: flags.noExtensions,
	};
	const lock = acquireLock(paths.lock, state.runId);
	try {
		await ctx.waitForIdle();
		ensureRunDir(paths, state.runId);
		if (lock.tookOver)
			out.say(`took over a stale loop lock of pid ${lock.tookOver.pid} (run ${lock.tookOver.runId})`, "warning");
		const event = (e: LoopEvent) => appendEvent(paths, state.runId, e);
		const journal = new Journal(join(runDir(paths, state.runId), "journal.jsonl"));
		// The script starts from the top: what it records is rebuilt as its steps replay. What the last attempt
		// paid for live is carried over, so limits and totals cover the whole run (also steps that will not replay).
		const live = b.spawns.filter((s) => !s.replayed);
		const finishedBefore = b.spawns.length;
		b.earlier = { spawns: (b.earlier?.spawns ?? 0) + live.length, usage: blueprintUsage(b) };
		Object.assign(b, { spawns: [], execs: [], merges: [], logs: [], phases: [], metrics: {}, values: {} });
		b.attempts++;
		state.pid = process.pid;
		const startedAt = Date.now();
		const elapsedBase = state.elapsedMs;
		const save = () => {
			state.elapsedMs = elapsedBase + (Date.now() - startedAt);
			saveState(paths, state);
		};
		if (resume) {
			clearControl(paths);
			event({ type: "run_resume", iteration: finishedBefore, elapsedMs: state.elapsedMs });
		} else event({ type: "run_start", preset: "run", check: "", goal: state.goal, options: state.options });
		event({ type: "blueprint_start", file: b.file, args: b.args, attempt: b.attempts, journaled: journal.size });
		save();

		const controls = new RunControls(paths, state, ctx, out);
		const closing = new AbortController();
		const inFlight = new Set<Promise<unknown>>();
		const gates = findService("gates");
		// On-done gates stay quiet in spawns: the script decides when checks run.
		const loopDone = gates?.loopStarted(cwd, undefined) ?? (() => undefined);
		let error: unknown;
		const budget = new RunBudget({
			maxSpawns: state.options.maxSpawns ?? RUN_DEFAULTS.maxSpawns,
			maxCost: state.options.maxCost,
		});
		budget.carryOver(b.earlier.spawns, b.earlier.usage.cost);
		const view = blueprintView(pi, ctx, out, state);
		try {
			const hydration = findService("hydration");
			const signal = controls.controller.signal;
			const factory = createFactory({
				cwd,
				runId: state.runId,
				args: b.args,
				state: b,
				journal,
				budget,
				limiter: new Limiter(state.options.concurrency ?? RUN_DEFAULTS.concurrency),
				signal,
				stopRequested: controls.stopRequested,
				closing: closing.signal,
				inFlight,
				spawnTimeoutMs: state.options.iterationTimeoutMs,
				execTimeoutMs: state.options.checkTimeoutMs,
				defaultRole: role,
				resolveModel: modelResolver(pi, ctx, router, config, state.options.strictModels === true, (detail) => {
					out.say(`loop: ${detail}`, "warning");
					event({ type: "model_fallback", detail });
				}),
				profile: (agent) => loadAgentProfile(cwd, agent),
				runAgent: (request) => runAgentSession(host, request),
				runCommand: runCheck,
				checkCommand: (name) => detectCheck(cwd, name as CheckKind).command,
				hydrate: hydration && ((task, tokens) => hydration.block(cwd, task, tokens)),
				isolation:
					repoRoot === undefined
						? undefined
						: worktreeIsolation(repoRoot, cwd, state.runId, gates, (command, where) =>
								runCheck(command, where, state.options.checkTimeoutMs, signal),
							),
				quietGates: gates && ((where) => gates.loopStarted(where, undefined)),
				checkDone: gates && ((where, changed, round, s) => gates.checkDone(where, changed, round, s)),
				event: (e) => {
					event(e);
					view.onEvent(e);
				},
				save,
			});
			try {
				await runScript(b.file, factory, b.args, { syntaxChecked: true });
			} catch (thrown) {
				error = thrown ?? new Error("the script threw undefined");
			}
			// Nothing outlives the script: queued steps are refused, running spawns and commands aborted.
			if (inFlight.size > 0) {
				out.say(`loop: the script left ${inFlight.size} step(s) running; they are stopped now`, "warning");
				closing.abort("the script settled");
				await Promise.allSettled([...inFlight]);
			}
		} finally {
			loopDone();
			controls.dispose();
		}
		const ending = endingOf(error, b.file, controls, budget, journal.claimed > 0, state.options.timeoutMs);
		state.status = "ended";
		state.reason = ending.reason;
		state.detail = ending.detail || undefined;
		state.endedAt = new Date().toISOString();
		save();
		event({ type: "run_end", reason: ending.reason, detail: ending.detail, iterations: b.spawns.length });
		const reportPath = join(runDir(paths, state.runId), "report.md");
		writeReport(paths, state.runId, renderBlueprintReport(state));
		clearControl(paths);
		await view.onEnd(blueprintSummary(state, reportPath), ending.exit === 0, reportPath);
		return ending.exit;
	} finally {
		lock.release();
	}
}
