/**
 * The `factory` object a blueprint script gets: spawn, exec, check, loop,
 * hydrate, observe, state, budget. Every step goes through the run's journal
 * (replayed on resume), its limits and its records; the pi wiring (sessions,
 * models, processes) comes in through BlueprintDeps.
 */
import { resolve } from "node:path";
import type { AgentRunRequest, AgentRunResult } from "../../core/agent-spawn.ts";
import type { RunBudget } from "../../core/budget.ts";
import { outputTail } from "../../core/check-output.ts";
import type { CheckRun } from "../../core/check-runner.ts";
import { isCheckKind } from "../../core/detect-checks.ts";
import type {
	CheckResult,
	ExecOptions,
	ExecResult,
	Factory,
	LogLevel,
	LoopOutcome,
	LoopSpec,
	MergeOptions,
	MergeResult,
	SpawnOptions,
	SpawnResult,
	ThinkingLevel,
} from "../../core/factory-api.ts";
import { identifyCheck } from "../../core/failure-identity.ts";
import type { Journal, StepKind, StepStart } from "../../core/journal.ts";
import type { Limiter } from "../../core/limiter.ts";
import type { LoopEvent } from "../events.ts";
import type { BlueprintState, ExecRecord, LogRecord, MergeRecord, SpawnRecord } from "../types.ts";
import type { AgentProfile } from "./agent-profile.ts";
import { runLoopSpec } from "./factory-loop.ts";

/** A step asked for after /loop stop, /loop abort or the run's time limit: the script is ended. */
export class RunEndedError extends Error {
	override name = "RunEndedError";
}

/** What an isolated spawn's commit adds to its result. */
export interface IsolatedWork {
	branch: string;
	commit: string;
	diffStat: string;
	/** Everything the commit changed against its base (also changes made through bash). */
	filesChanged: string[];
}

/** The model a spawn runs on, resolved from its model spec or role. */
export interface SpawnModel {
	model?: AgentRunRequest["model"];
	thinking?: ThinkingLevel;
	/** The role it came from ("" when a model was named directly). */
	role: string;
}

export interface BlueprintDeps {
	cwd: string;
	runId: string;
	args: string[];
	state: BlueprintState;
	journal: Journal;
	budget: RunBudget;
	limiter: Limiter;
	/** The run's signal: aborted by /loop abort, Esc and --timeout. */
	signal: AbortSignal;
	/** Set by /loop stop: steps not yet started are refused. */
	stopRequested(): boolean;
	/**
	 * Aborted when the script has settled (returned or thrown): steps still queued are refused and spawns still
	 * running are aborted, so nothing outlives the run. Each step's promise is added to `inFlight` until it settles.
	 */
	closing: AbortSignal;
	inFlight: Set<Promise<unknown>>;
	spawnTimeoutMs: number;
	execTimeoutMs: number;
	defaultRole: string;
	resolveModel(spec: string | undefined, role: string): SpawnModel;
	profile(agent: string): AgentProfile | undefined;
	runAgent(request: AgentRunRequest): Promise<AgentRunResult>;
	runCommand(command: string, cwd: string, timeoutMs: number, signal: AbortSignal): Promise<CheckRun>;
	/** A named check's command (tests, lint, types); throws when the project has none. */
	checkCommand(name: string): string;
	hydrate?(task: string, budget?: number): Promise<string>;
	/** Keeps the on-done gates quiet in `cwd` (a spawn's own folder) until the returned function is called. */
	quietGates?(cwd: string): () => void;
	/** The on-done gates for a spawn with gates "all" working in `cwd`. */
	checkDone?(
		cwd: string,
		changed: string[],
		round: number,
		signal: AbortSignal,
	): Promise<{ marks: string; fix?: string; stopped?: string }>;
	/** isolation "worktree": a worktree for step n, then its commit; undefined outside a git repository. */
	isolation?: {
		create(n: number): Promise<{ path: string }>;
		commit(worktree: { path: string }, message: string): Promise<IsolatedWork>;
		/** Merges in the order given, each onto what the ones before it left. */
		merge(items: { branch: string; commit: string }[], check: string | undefined): Promise<MergeResult[]>;
		/** After a factory.merge: the merged worktrees' removal has finished. */
		settle(): Promise<void>;
	};
	event(event: LoopEvent): void;
	/** Saves the state (after every step). */
	save(): void;
}

function requireText(value: unknown, what: string): string {
	if (typeof value !== "string" || value.trim() === "") throw new TypeError(`${what} must be non-empty text`);
	return value;
}

/** What makes a spawn the same step on resume (the signal is not part of it). */
function spawnKey(o: SpawnOptions, profile: AgentProfile | undefined) {
	return {
		agent: o.agent,
		prompt: o.prompt,
		systemPrompt: o.systemPrompt,
		model: o.model ?? profile?.model,
		role: o.role,
		thinking: o.thinking ?? profile?.thinking,
		tools: o.tools ?? profile?.tools,
		hydrate: o.hydrate,
		step: o.step,
		timeout: o.timeout,
		gates: o.gates,
		isolation: o.isolation,
		check: o.check,
		cwd: o.cwd,
	};
}

export function createFactory(deps: BlueprintDeps): Factory {
	const { state, journal, budget } = deps;
	let replayedSteps = 0;

	/** Throws when the run is ending: aborted, timed out, stopped, or the script has already settled. */
	const refuseIfEnding = () => {
		if (deps.signal.aborted) throw new RunEndedError(`the run was ${String(deps.signal.reason ?? "aborted")}`);
		if (deps.closing.aborted) throw new RunEndedError("the script has already returned or thrown");
		if (deps.stopRequested()) throw new RunEndedError("the run was stopped by /loop stop");
	};

	/** A named check (tests, lint, types) → the project's command; anything else is a command already. */
	const commandOf = (check: string) => (isCheckKind(check) ? deps.checkCommand(check) : check);

	/** Claims the step's position (in call order) and says where replay stopped. */
	const begin = (kind: StepKind, key: unknown): StepStart => {
		refuseIfEnding();
		const start = journal.begin(kind, key);
		if (start.replay) replayedSteps++;
		if (start.diverged !== undefined)
			deps.event({ type: "replayed", steps: replayedSteps, position: start.position, detail: start.diverged });
		return start;
	};

	/** Every step's promise is tracked until it settles (see BlueprintDeps.inFlight). */
	const tracked =
		<A extends unknown[], R>(step: (...args: A) => Promise<R>) =>
		(...args: A): Promise<R> => {
			const promise = step(...args);
			deps.inFlight.add(promise);
			const settle = () => deps.inFlight.delete(promise);
			promise.then(settle, settle);
			return promise;
		};

	const spawn = async (options: SpawnOptions): Promise<SpawnResult> => {
		if (!options || typeof options !== "object") throw new TypeError("factory.spawn expects an options object");
		requireText(options.prompt, "factory.spawn: prompt");
		if (options.isolation !== undefined && options.isolation !== "worktree")
			throw new TypeError(`factory.spawn: isolation must be "worktree", got ${JSON.stringify(options.isolation)}`);
		if (options.check !== undefined) requireText(options.check, "factory.spawn: check");
		if (options.cwd !== undefined) {
			requireText(options.cwd, "factory.spawn: cwd");
			if (options.isolation !== undefined)
				throw new TypeError('factory.spawn: cwd and isolation "worktree" do not combine (a worktree is its own cwd)');
		}
		const isolation = options.isolation === "worktree" ? deps.isolation : undefined;
		if (options.isolation === "worktree" && !isolation)
			throw new Error('factory.spawn: isolation "worktree" needs a git repository with at least one commit');
		const agent = options.agent ?? "agent";
		const profile = options.agent ? deps.profile(options.agent) : undefined;
		const key = spawnKey(options, profile);
		const start = begin("spawn", key);
		if (start.replay) {
			const result = { ...(start.replay.result as SpawnResult), replayed: true };
			recordSpawn(start.position, result);
			return result;
		}
		const run = async (): Promise<SpawnResult> => {
			// Checked when the spawn gets its slot, not when it was called: a queued spawn obeys a stop, an abort
			// and the cost spent meanwhile.
			refuseIfEnding();
			budget.reserveSpawn();
			const role = options.role ?? deps.defaultRole;
			const chosen = deps.resolveModel(key.model, role);
			const thinking = key.thinking ?? chosen.thinking;
			let prompt = options.prompt;
			if (options.hydrate && deps.hydrate) {
				const task = typeof options.hydrate === "string" ? options.hydrate : options.prompt;
				prompt = `${await deps.hydrate(task)}\n\n${prompt}`;
			}
			const system = [profile?.instructions, options.systemPrompt].filter((t) => t && t.trim() !== "").join("\n\n");
			const modelName = chosen.model ? `${chosen.model.provider}/${chosen.model.id}` : "";
			deps.event({
				type: "spawn_start",
				position: start.position,
				agent,
				step: options.step,
				model: modelName,
				role: chosen.role,
			});
			const signals = [deps.signal, deps.closing, ...(options.signal ? [options.signal] : [])];
			const signal = AbortSignal.any(signals);
			// Made last, so a failure above leaves no worktree behind.
			const worktree =
				(await isolation?.create(start.position + 1)) ??
				(options.cwd === undefined ? undefined : { path: resolve(deps.cwd, options.cwd) });
			// As in the project: on-done gates stay quiet in a folder of the script's unless asked for ("all").
			const quiet = options.cwd === undefined ? undefined : deps.quietGates?.(worktree?.path as string);
			const checkDone = options.gates === "all" ? deps.checkDone : undefined;
			if (options.gates === "all" && !checkDone)
				log("warning", `spawn ${agent}: gates "all" asked for, but pi-loop-factory's gates extension is not loaded`);
			let outcome: AgentRunResult;
			try {
				outcome = await deps.runAgent({
					prompt,
					cwd: worktree?.path,
					appendSystemPrompt: system || undefined,
					model: chosen.model,
					thinking,
					tools: key.tools,
					timeoutMs: options.timeout ?? deps.spawnTimeoutMs,
					signal,
					followUp:
						checkDone &&
						(async (changed, sent) => {
							const said = await checkDone(worktree?.path ?? deps.cwd, changed, sent, signal);
							if (said.marks) log(said.fix || said.stopped ? "warning" : "info", `${agent}: gates ${said.marks}`);
							if (said.stopped) log("warning", said.stopped);
							return said.fix;
						}),
				});
			} finally {
				quiet?.();
			}
			const result: SpawnResult = {
				exitCode: outcome.status === "ok" ? 0 : 1,
				text: outcome.text,
				errorMessage: outcome.error,
				stopReason: outcome.stopReason,
				usage: outcome.usage,
				cost: outcome.usage.cost,
				model: outcome.model || modelName,
				role: chosen.role,
				durationMs: outcome.durationMs,
				filesChanged: outcome.filesChanged,
				agent,
				step: options.step,
			};
			if (options.check !== undefined && result.exitCode === 0) {
				const command = commandOf(options.check);
				const ran = await deps.runCommand(command, worktree?.path ?? deps.cwd, deps.execTimeoutMs, signal);
				const passed = ran.exitCode === 0 && !ran.timedOut;
				result.check = {
					command,
					passed,
					exitCode: ran.exitCode,
					timedOut: ran.timedOut,
					output: outputTail(ran.output, 4000),
				};
				log(
					passed ? "info" : "warning",
					`${agent}${options.step === undefined ? "" : ` #${options.step}`}: ${command} ` +
						`${passed ? "passed" : "failed"} where it worked`,
				);
			}
			if (!worktree || !isolation) return result;
			const subject = options.prompt.split("\n")[0]?.slice(0, 60) ?? "";
			const work = await isolation.commit(
				worktree,
				`loop ${deps.runId} step ${start.position + 1} (${agent}): ${subject}`,
			);
			return { ...result, ...work };
		};
		// Charged before the slot is handed on: the next queued spawn sees what this one spent.
		const result = await deps.limiter.run(async () => {
			const done = await run();
			budget.charge(done.cost);
			return done;
		});
		journal.record(start, "spawn", result);
		recordSpawn(start.position, result);
		return result;
	};

	const recordSpawn = (position: number, r: SpawnResult) => {
		const record: SpawnRecord = {
			position,
			agent: r.agent,
			step: r.step,
			model: r.model,
			role: r.role,
			exitCode: r.exitCode,
			stopReason: r.stopReason,
			error: r.errorMessage,
			usage: r.usage,
			durationMs: r.durationMs,
			filesChanged: r.filesChanged,
			replayed: r.replayed,
			branch: r.branch,
			check: r.check && { command: r.check.command, passed: r.check.passed },
		};
		state.spawns.push(record);
		deps.event({ type: "spawn_end", cost: r.cost, ...record });
		deps.save();
	};

	const runCommand = async (kind: "exec" | "check", command: string, options: ExecOptions = {}) => {
		const cwd = options.cwd ? resolve(deps.cwd, options.cwd) : deps.cwd;
		const start = begin(kind, { command, cwd: options.cwd, timeout: options.timeout });
		let result: ExecResult;
		if (start.replay) result = { ...(start.replay.result as ExecResult), replayed: true };
		else {
			const signal = AbortSignal.any([deps.signal, deps.closing]);
			const run = await deps.runCommand(command, cwd, options.timeout ?? deps.execTimeoutMs, signal);
			const { exitCode, stdout, stderr, output, durationMs, timedOut } = run;
			result = { exitCode, stdout, stderr, output, durationMs, timedOut };
		}
		return { start, result, cwd };
	};

	const recordExec = (
		kind: "exec" | "check",
		start: StepStart,
		command: string,
		result: ExecResult,
		failures?: number,
	) => {
		if (!result.replayed) journal.record(start, kind, result);
		const { exitCode, durationMs, timedOut, replayed } = result;
		const record: ExecRecord = {
			position: start.position,
			kind,
			command,
			exitCode,
			durationMs,
			timedOut,
			failures,
			replayed,
		};
		state.execs.push(record);
		deps.event({ type: "exec", ...record });
		deps.save();
	};

	const exec = async (command: string, options?: ExecOptions): Promise<ExecResult> => {
		requireText(command, "factory.exec: command");
		const { start, result } = await runCommand("exec", command, options);
		recordExec("exec", start, command, result);
		return result;
	};

	const check = async (name: string, options?: ExecOptions): Promise<CheckResult> => {
		requireText(name, "factory.check: check");
		const command = commandOf(name);
		const { start, result, cwd } = await runCommand("check", command, options);
		const { identity, key, count } = identifyCheck(result.exitCode, result.output, cwd);
		const checked: CheckResult = {
			...result,
			command,
			passed: result.exitCode === 0,
			noTests: identity.kind === "no-tests" ? identity.detail : undefined,
			failures: identity.kind === "failures" ? identity.ids : [],
			fingerprint: key,
		};
		recordExec("check", start, command, result, count);
		return checked;
	};

	const log = (level: LogLevel, message: string, data?: unknown) => {
		if (!["debug", "info", "warning", "error"].includes(level))
			throw new TypeError(`factory.observe.log: level must be debug, info, warning or error, got "${level}"`);
		const record: LogRecord = { level, message: String(message), at: new Date().toISOString() };
		if (data !== undefined) record.data = data;
		state.logs.push(record);
		deps.event({ type: "log", level, message: record.message, data });
	};

	const merge = async (results: SpawnResult[], options: MergeOptions = {}): Promise<MergeResult[]> => {
		if (!Array.isArray(results)) throw new TypeError("factory.merge expects an array of spawn results");
		const items = results.map((r, i) => {
			if (!r?.branch || !r.commit)
				throw new TypeError(`factory.merge: result ${i + 1} has no branch (only isolation "worktree" spawns merge)`);
			return { branch: r.branch, commit: r.commit };
		});
		const check = options.check === undefined ? undefined : commandOf(options.check);
		const start = begin("merge", { items, check });
		let outcomes: MergeResult[];
		if (start.replay) outcomes = start.replay.result as MergeResult[];
		else {
			if (!deps.isolation) throw new Error("factory.merge needs a git repository");
			outcomes = await deps.isolation.merge(items, check);
			await deps.isolation.settle();
			journal.record(start, "merge", outcomes);
		}
		for (const o of outcomes) {
			const record: MergeRecord = { position: start.position, branch: o.branch, status: o.status, detail: o.detail };
			state.merges = [...(state.merges ?? []), record];
			deps.event({ type: "merge", ...record });
		}
		deps.save();
		return outcomes;
	};

	const steps = { spawn: tracked(spawn), check: tracked(check) };
	const factory: Factory = {
		...steps,
		merge: tracked(merge),
		exec: tracked(exec),
		loop: (spec: LoopSpec): Promise<LoopOutcome> => runLoopSpec(spec, steps),
		hydrate: async (task, options) => {
			requireText(task, "factory.hydrate: task");
			if (!deps.hydrate) throw new Error("factory.hydrate: pi-loop-factory's hydrate extension is not loaded");
			return deps.hydrate(task, options?.budget);
		},
		observe: {
			log,
			phase: (title) => {
				state.phases.push(String(title));
				deps.event({ type: "phase", title: String(title) });
			},
			metric: (name, value) => {
				if (typeof value !== "number" || !Number.isFinite(value))
					throw new TypeError(`factory.observe.metric: "${name}" needs a finite number, got ${String(value)}`);
				state.metrics[name] = value;
				deps.event({ type: "metric", name, value });
			},
		},
		state: state.values,
		args: deps.args,
		runId: deps.runId,
		signal: deps.signal,
		get budget() {
			return budget.view();
		},
	};
	return factory;
}
