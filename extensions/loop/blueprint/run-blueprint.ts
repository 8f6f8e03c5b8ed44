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
import { matchesKey } from "@mariozechner/pi-tui";
import { hostExtensionFlags, runAgentSession, type SpawnHost } from "../../core/agent-spawn.ts";
import { RunBudget } from "../../core/budget.ts";
import { runCheck } from "../../core/check-runner.ts";
import { type CheckKind, detectCheck } from "../../core/detect-checks.ts";
import { Journal } from "../../core/journal.ts";
import { Limiter } from "../../core/limiter.ts";
import { parseModelSpec, roleNames } from "../../roles/roles.ts";
import type { LoopConfig } from "../../shared/config.ts";
import type { Thinking } from "../../shared/model-spec.ts";
import { findService } from "../../shared/services.ts";
import type { LoopRequest } from "../args.ts";
import type { LoopEvent } from "../events.ts";
import { IdleInput } from "../idle-input.ts";
import { acquireLock } from "../lock.ts";
import { MESSAGE_TYPE } from "../message.ts";
import { RoleRouter } from "../routing.ts";
import {
	appendEvent,
	clearControl,
	ensureRunDir,
	type LoopPaths,
	readControl,
	runDir,
	saveState,
	writeReport,
} from "../store.ts";
import { type BlueprintState, blueprintUsage, type EndReason, type LoopState, RUN_DEFAULTS } from "../types.ts";
import { formatCost } from "../view.ts";
import { loadAgentProfile } from "./agent-profile.ts";
import { BlueprintLoadError } from "./blueprint-errors.ts";
import { blueprintSummary, execLine, renderBlueprintReport, spawnLine } from "./blueprint-report.ts";
import { listBlueprints, resolveBlueprint } from "./catalog.ts";
import { createFactory, type SpawnModel } from "./factory.ts";
import { repositoryRoot, worktreeIsolation } from "./isolation.ts";
import { checkSyntax, runScript } from "./script-loader.ts";

/** The package root: spawns load this package's extensions (pi's loader drops a second copy). */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const UI_KEY = "loop";
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

/** How a run is ended from outside: /loop abort, Esc and --timeout abort it; /loop stop refuses the next steps. */
class RunControls {
	readonly controller = new AbortController();
	stop = false;
	/** A step was refused because of /loop stop. */
	refusedByStop = false;
	private readonly disposers: (() => void)[] = [];

	constructor(paths: LoopPaths, state: LoopState, ctx: ExtensionCommandContext, out: RunOutput) {
		const { controller } = this;
		const watcher = setInterval(() => {
			const control = readControl(paths, state.runId);
			if (control === "abort" && !controller.signal.aborted) controller.abort("aborted");
			if (control === "stop") this.stop = true;
		}, 250);
		this.disposers.push(() => clearInterval(watcher));
		const timeoutMs = state.options.timeoutMs;
		if (timeoutMs !== undefined) {
			const deadline = setTimeout(() => controller.abort("timeout"), Math.max(0, timeoutMs - state.elapsedMs));
			this.disposers.push(() => clearTimeout(deadline));
		}
		const idle = new IdleInput((command) => {
			if (command === "abort") controller.abort("aborted");
			else if (command === "stop") this.stop = true;
			else out.say(`blueprint ${state.blueprint?.file}: ${state.blueprint?.spawns.length ?? 0} spawns so far`);
		});
		idle.attach(ctx);
		this.disposers.push(() => idle.detach());
		if (ctx.hasUI) {
			const unsubscribe = ctx.ui.onTerminalInput((data) => {
				if (!matchesKey(data, "escape") || controller.signal.aborted) return undefined;
				controller.abort("aborted");
				out.say("loop: Esc — the blueprint run is being aborted", "warning");
				return { consume: true };
			});
			this.disposers.push(unsubscribe);
		}
	}

	stopRequested = (): boolean => {
		if (this.stop) this.refusedByStop = true;
		return this.stop;
	};

	dispose(): void {
		for (const dispose of this.disposers.splice(0)) dispose();
	}
}

/**
 * A spawn's `model` (provider/model[:thinking] or a role name) or its role → the model it runs on. An unusable
 * model falls back along the role chain with one warning per model, or is an error under --strict-models.
 */
function modelResolver(
	pi: ExtensionAPI,
	ctx: ExtensionCommandContext,
	router: RoleRouter,
	config: LoopConfig,
	strict: boolean,
	warn: (detail: string) => void,
): (spec: string | undefined, role: string) => SpawnModel {
	const session = { model: ctx.model, thinking: pi.getThinkingLevel() as Thinking };
	const warned = new Set<string>();
	const fromRole = (name: string): SpawnModel => {
		const choice = router.choice(name);
		return choice ? { model: choice.model, thinking: choice.thinking, role: name } : { ...session, role: name };
	};
	return (spec, spawnRole) => {
		if (spec === undefined) return fromRole(spawnRole);
		const parsed = parseModelSpec(spec);
		let problem: string;
		if (!parsed) {
			if (roleNames(config.roles).includes(spec)) return fromRole(spec);
			problem = "neither provider/model[:thinking] nor a role name";
		} else {
			const model = ctx.modelRegistry.find(parsed.provider, parsed.id);
			if (model && ctx.modelRegistry.hasConfiguredAuth(model)) return { model, thinking: parsed.thinking, role: "" };
			problem = model ? `no API key for ${parsed.provider}` : "unknown model";
		}
		if (strict) throw new Error(`factory.spawn: model "${spec}": ${problem} (--strict-models)`);
		const fallback = fromRole(spawnRole);
		if (!warned.has(spec)) {
			warned.add(spec);
			const used = fallback.model ? `${fallback.model.provider}/${fallback.model.id}` : "the session's model";
			warn(`model "${spec}" skipped (${problem}); using ${used} (role ${spawnRole})`);
		}
		return fallback;
	};
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
		Object.assign(b, { spawns: [], execs: [], logs: [], phases: [], metrics: {}, values: {} });
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

/** Progress: stderr lines without a UI; widget, status and notifications with one (interactive, RPC). */
function blueprintView(pi: ExtensionAPI, ctx: ExtensionCommandContext, out: RunOutput, state: LoopState) {
	const b = state.blueprint as BlueprintState;
	const running = new Map<number, string>();
	const log = (line: string) => process.stderr.write(`[loop] ${line}\n`);
	const refresh = () => {
		if (!ctx.hasUI) return;
		try {
			const cost = b.spawns.reduce((sum, s) => sum + s.usage.cost, 0);
			const lines = [
				`blueprint ${b.file}${b.phases.length > 0 ? ` · ${b.phases.at(-1)}` : ""}`,
				`spawns ${b.spawns.length} done · ${running.size} running · ${formatCost(cost)}`,
				...[...running.values()].map((r) => `  ⟳ ${r}`),
			];
			ctx.ui.setWidget(UI_KEY, lines);
			ctx.ui.setStatus(UI_KEY, `⟳ blueprint · ${b.spawns.length} spawns · ${formatCost(cost)}`);
		} catch {
			// the UI is gone (pi is shutting down)
		}
	};
	return {
		onEvent(e: LoopEvent) {
			switch (e.type) {
				case "spawn_start":
					running.set(
						e.position,
						`${e.agent}${e.step !== undefined ? ` #${e.step}` : ""} (${e.model || "session model"})`,
					);
					if (!ctx.hasUI)
						log(`step ${e.position + 1}: spawn ${e.agent} started on ${e.model || "the session's model"}`);
					break;
				case "spawn_end": {
					running.delete(e.position);
					const record = b.spawns.find((s) => s.position === e.position);
					if (!ctx.hasUI && record) log(spawnLine(record));
					break;
				}
				case "exec": {
					const record = b.execs.find((x) => x.position === e.position);
					if (!ctx.hasUI && record) log(execLine(record));
					break;
				}
				case "log":
					if (!ctx.hasUI) log(`${e.level}: ${e.message}${e.data === undefined ? "" : ` ${JSON.stringify(e.data)}`}`);
					else if (e.level === "warning" || e.level === "error") out.say(e.message, e.level);
					break;
				case "phase":
					if (!ctx.hasUI) log(`phase: ${e.title}`);
					break;
				case "replayed":
					out.say(`loop: replayed ${e.steps} finished steps from the journal; step ${e.position + 1} on runs live`);
					break;
			}
			refresh();
		},
		async onEnd(summary: string, ok: boolean, reportPath: string) {
			if (ctx.hasUI) {
				try {
					ctx.ui.setWidget(UI_KEY, undefined);
					ctx.ui.setStatus(UI_KEY, undefined);
					ctx.ui.notify(summary.split("\n")[0] as string, ok ? "info" : "warning");
				} catch {
					// the UI is gone
				}
			} else log(summary);
			pi.sendMessage({
				customType: MESSAGE_TYPE,
				content: summary,
				display: true,
				details: { runId: state.runId, kind: "summary", reportPath },
			});
		},
	};
}
