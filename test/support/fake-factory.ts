/**
 * An in-memory `factory` for blueprint unit tests: check results are scripted per call, spawns are recorded and
 * answered by a configurable function, merges answered by a script (isolated spawns get a fake branch and commit),
 * and everything the script logs is kept. Nothing runs a command, git or a model.
 */
import type {
	Budget,
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
} from "../../extensions/core/factory-api.ts";

/** A failing check result with these failure ids (the fingerprint is built from them unless given). */
export function failing(failures: string[], extra: Partial<CheckResult> = {}): CheckResult {
	const output = failures.map((f) => `FAIL ${f}`).join("\n");
	return {
		command: "fake check",
		exitCode: 1,
		stdout: output,
		stderr: "",
		output,
		durationMs: 1,
		timedOut: false,
		passed: false,
		failures,
		fingerprint: failures.join("|"),
		...extra,
	};
}

/** A passing check result. */
export function passing(extra: Partial<CheckResult> = {}): CheckResult {
	return { ...failing([]), exitCode: 0, stdout: "ok", output: "ok", passed: true, fingerprint: "", ...extra };
}

/** A spawn result for `options`, with `extra` on top (exitCode 0, no cost, no files by default). */
export function spawnResult(options: SpawnOptions, extra: Partial<SpawnResult> = {}): SpawnResult {
	return {
		exitCode: 0,
		text: "done",
		stopReason: "stop",
		usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: extra.cost ?? 0 },
		cost: 0,
		model: "fake/model",
		role: options.role ?? "implement",
		durationMs: 1,
		filesChanged: [],
		agent: options.agent ?? "agent",
		step: options.step,
		...extra,
	};
}

export interface FakeSetup {
	/** Check results in call order, or a function of (check name or command, call index from 0). */
	checks?: CheckResult[] | ((check: string, index: number) => CheckResult);
	/** Answers each spawn (index from 0); default: exitCode 0, text "done". May be async to model slow agents. */
	spawn?: (options: SpawnOptions, index: number) => Partial<SpawnResult> | Promise<Partial<SpawnResult>>;
	/**
	 * Answers factory.merge (call index from 0): a status per result, or whole results; default: every result
	 * merged. Isolated spawns get branch `loop/fake-run/<i+1>` and commit `commit-<i+1>` unless the answer sets them.
	 */
	merge?: (
		results: SpawnResult[],
		options: MergeOptions,
		index: number,
	) => (MergeResult["status"] | Partial<MergeResult>)[];
	/** Answers factory.exec; default exit 0 with empty output. */
	exec?: (command: string, options?: ExecOptions) => Partial<ExecResult>;
	/** Dollars allowed (budget.remaining = maxCost - spent); default unlimited. */
	maxCost?: number;
	/** Spawns allowed (budget.spawnsRemaining); default 50. */
	maxSpawns?: number;
	args?: string[];
}

export interface LogEntry {
	level: LogLevel;
	message: string;
	data?: unknown;
}

export interface FakeFactory extends Factory {
	/** Options of every spawn, in call order. */
	spawned: SpawnOptions[];
	/** Check names or commands, in call order, with their options. */
	checked: { check: string; options?: ExecOptions }[];
	executed: string[];
	/** factory.merge calls: the branches given, in order, and the options. */
	merges: { branches: string[]; options: MergeOptions }[];
	/** factory.loop specs, in call order. */
	loops: LoopSpec[];
	logs: LogEntry[];
	phases: string[];
	metrics: { name: string; value: number }[];
	/** "start:<i>" and "end:<i>" per spawn index, in the order they happened. */
	events: string[];
	/** Aborts factory.signal. */
	abort(): void;
}

/** A fake factory following `setup`; a check call past the scripted list fails the test with a clear error. */
export function fakeFactory(setup: FakeSetup = {}): FakeFactory {
	const controller = new AbortController();
	let spent = 0;
	let spawns = 0;
	const maxSpawns = setup.maxSpawns ?? 50;

	const nextCheck = (check: string): CheckResult => {
		const index = fake.checked.length - 1;
		const script = setup.checks ?? [];
		const result = typeof script === "function" ? script(check, index) : script[index];
		if (!result) throw new Error(`fake factory: no scripted result for check call ${index + 1} (${check})`);
		return { ...result, command: check };
	};

	const fake: FakeFactory = {
		spawned: [],
		checked: [],
		executed: [],
		loops: [],
		merges: [],
		async merge(results, options = {}) {
			const index = fake.merges.length;
			fake.merges.push({ branches: results.map((r) => r.branch ?? "?"), options });
			const answers = setup.merge?.(results, options, index) ?? results.map(() => "merged" as const);
			return results.map((r, i): MergeResult => {
				const answer = answers[i] ?? "merged";
				const given = typeof answer === "string" ? { status: answer } : answer;
				return { branch: r.branch ?? "?", commit: r.commit ?? "?", status: "merged", ...given };
			});
		},
		logs: [],
		phases: [],
		metrics: [],
		events: [],
		abort: () => controller.abort(new Error("aborted by test")),
		async spawn(options) {
			const index = fake.spawned.length;
			fake.spawned.push(options);
			spawns++;
			fake.events.push(`start:${index}`);
			const answer = (await setup.spawn?.(options, index)) ?? {};
			const isolated =
				options.isolation === "worktree" ? { branch: `loop/fake-run/${index + 1}`, commit: `commit-${index + 1}` } : {};
			const result = spawnResult(options, { ...isolated, ...answer });
			spent += result.cost;
			fake.events.push(`end:${index}`);
			return result;
		},
		async exec(command, options) {
			fake.executed.push(command);
			const answer = setup.exec?.(command, options) ?? {};
			return { exitCode: 0, stdout: "", stderr: "", output: "", durationMs: 1, timedOut: false, ...answer };
		},
		async check(check, options) {
			fake.checked.push({ check, options });
			return nextCheck(check);
		},
		async loop(spec): Promise<LoopOutcome> {
			// A plain version of the runner's loop: check, stop on pass or max, else spawn; no progress rules.
			fake.loops.push(spec);
			const max = spec.max ?? 10;
			let iterations = 0;
			for (;;) {
				const last = await fake.check(spec.check);
				if (last.passed) return { reason: "passed", iterations, last };
				if (iterations >= max) return { reason: "max-iterations", iterations, last };
				iterations++;
				const made = spec.spawn ? await spec.spawn(iterations, last) : { prompt: spec.prompt ?? "" };
				if ("prompt" in made) await fake.spawn(made);
			}
		},
		async hydrate(task) {
			return `hydrated: ${task}`;
		},
		observe: {
			log: (level, message, data) => fake.logs.push({ level, message, data }),
			phase: (title) => fake.phases.push(title),
			metric: (name, value) => fake.metrics.push({ name, value }),
		},
		state: {},
		args: setup.args ?? [],
		runId: "fake-run",
		signal: controller.signal,
		get budget(): Budget {
			const remaining = setup.maxCost === undefined ? Number.POSITIVE_INFINITY : setup.maxCost - spent;
			return { spent, remaining, spawns, spawnsRemaining: Math.max(0, maxSpawns - spawns) };
		},
	};
	return fake;
}
