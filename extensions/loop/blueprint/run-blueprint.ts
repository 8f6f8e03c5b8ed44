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
import { detectCheck } from "../../core/detect-checks.ts";
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
import { createFactory, RunEndedError, type SpawnModel } from "./factory.ts";
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
			event({ type: "run_resume", iteration: b.spawns.length, elapsedMs: state.elapsedMs });
		} else event({ type: "run_start", preset: "run", check: "", goal: state.goal, options: state.options });
		event({ type: "blueprint_start", file: b.file, args: b.args, attempt: b.attempts, journaled: journal.size });
		save();

		// Ending the run: /loop abort, Esc or the time limit abort every step; /loop stop refuses the next ones.
		const controller = new AbortController();
		let stop = false;
		let refusedByStop = false;
		const poll = () => {
			const control = readControl(paths, state.runId);
			if (control === "abort" && !controller.signal.aborted) controller.abort("aborted");
			if (control === "stop") stop = true;
		};
		const watcher = setInterval(poll, 250);
		const timeoutMs = state.options.timeoutMs;
		const deadline =
			timeoutMs === undefined
				? undefined
				: setTimeout(() => controller.abort("timeout"), Math.max(0, timeoutMs - state.elapsedMs));
		const idle = new IdleInput((command) => {
			if (command === "abort") controller.abort("aborted");
			else if (command === "stop") stop = true;
			else out.say(`blueprint ${b.file}: ${b.spawns.length} spawns so far`);
		});
		idle.attach(ctx);
		const stopEscapeListener =
			ctx.hasUI &&
			ctx.ui.onTerminalInput((data) => {
				if (!matchesKey(data, "escape") || controller.signal.aborted) return undefined;
				controller.abort("aborted");
				out.say("loop: Esc — the blueprint run is being aborted", "warning");
				return { consume: true };
			});

		const view = blueprintView(pi, ctx, out, state);
		const flags = hostExtensionFlags(process.argv, process.cwd());
		const host: SpawnHost = {
			cwd,
			modelRegistry: ctx.modelRegistry,
			extensionPaths: [PACKAGE_ROOT, ...flags.paths],
			noExtensions: flags.noExtensions,
		};
		const budget = new RunBudget({
			maxSpawns: state.options.maxSpawns ?? RUN_DEFAULTS.maxSpawns,
			maxCost: state.options.maxCost,
		});
		budget.carryOver(b.earlier.spawns, b.earlier.usage.cost);
		const session: SpawnModel = {
			model: ctx.model,
			thinking: pi.getThinkingLevel() as Thinking,
			role,
		};
		const warned = new Set<string>();
		const resolveModel = (spec: string | undefined, spawnRole: string): SpawnModel => {
			const fromRole = (name: string): SpawnModel => {
				const choice = router.choice(name);
				return choice ? { model: choice.model, thinking: choice.thinking, role: name } : { ...session, role: name };
			};
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
			if (state.options.strictModels) throw new Error(`factory.spawn: model "${spec}": ${problem} (--strict-models)`);
			const fallback = fromRole(spawnRole);
			if (!warned.has(spec)) {
				warned.add(spec);
				const used = fallback.model ? `${fallback.model.provider}/${fallback.model.id}` : "the session's model";
				const detail = `model "${spec}" skipped (${problem}); using ${used} (role ${spawnRole})`;
				out.say(`loop: ${detail}`, "warning");
				event({ type: "model_fallback", detail });
			}
			return fallback;
		};
		const repoRoot = await repositoryRoot(cwd);
		const hydration = findService("hydration");
		const gates = findService("gates");
		const factory = createFactory({
			cwd,
			runId: state.runId,
			args: b.args,
			state: b,
			journal,
			budget,
			limiter: new Limiter(state.options.concurrency ?? RUN_DEFAULTS.concurrency),
			signal: controller.signal,
			stopRequested: () => {
				if (stop) refusedByStop = true;
				return stop;
			},
			spawnTimeoutMs: state.options.iterationTimeoutMs,
			execTimeoutMs: state.options.checkTimeoutMs,
			defaultRole: role,
			resolveModel,
			profile: (agent) => loadAgentProfile(cwd, agent),
			runAgent: (request) => runAgentSession(host, request),
			runCommand: runCheck,
			checkCommand: (name) => detectCheck(cwd, name as "tests" | "lint" | "types").command,
			hydrate: hydration && ((task, tokens) => hydration.block(cwd, task, tokens)),
			isolation:
				repoRoot === undefined
					? undefined
					: worktreeIsolation(repoRoot, cwd, state.runId, (command, where) =>
							runCheck(command, where, state.options.checkTimeoutMs, controller.signal),
						),
			checkDone: gates && ((where, changed, round, signal) => gates.checkDone(where, changed, round, signal)),
			event: (e) => {
				event(e);
				view.onEvent(e);
			},
			save,
		});

		// On-done gates stay quiet in spawns: the script decides when checks run.
		const loopDone = gates?.loopStarted(cwd, undefined) ?? (() => undefined);
		let ending: Ending;
		try {
			await runScript(b.file, factory, b.args);
			ending = { reason: "completed", detail: "", exit: 0 };
		} catch (error) {
			const message = error instanceof Error ? error.message : String(error);
			const where = whereInScript(error, b.file);
			ending =
				error instanceof BlueprintLoadError
					? { reason: "failed", detail: message, exit: 2 }
					: { reason: "failed", detail: `${message}${where ? ` (at ${where})` : ""}`, exit: 1 };
			if (error instanceof RunEndedError && !controller.signal.aborted && refusedByStop)
				ending = { reason: "stopped", detail: "stopped by /loop stop", exit: 1 };
		} finally {
			loopDone();
			clearInterval(watcher);
			if (deadline) clearTimeout(deadline);
			idle.detach();
			if (stopEscapeListener) stopEscapeListener();
		}
		if (budget.exceeded) ending = { reason: "budget", detail: budget.exceeded, exit: 1 };
		else if (controller.signal.aborted) {
			const timeout = controller.signal.reason === "timeout";
			ending = timeout
				? { reason: "timeout", detail: `run time limit of ${Math.round((timeoutMs ?? 0) / 1000)}s reached`, exit: 1 }
				: { reason: "aborted", detail: "aborted by /loop abort or Esc", exit: 1 };
		} else if (refusedByStop && ending.reason === "completed")
			ending = { reason: "stopped", detail: "stopped by /loop stop", exit: 1 };

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
