/**
 * Unit tests: the blueprint `factory` (createFactory) over fake BlueprintDeps — journal replay and where it stops,
 * the concurrency limit, the budget, steps refused once the run ends, model resolution, agent profiles, named
 * checks with failure identity, and observe's validation. Nothing runs a model or a command.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Api, Model } from "@mariozechner/pi-ai";
import { describe, expect, it } from "vitest";
import type { AgentRunRequest, AgentRunResult } from "../../extensions/core/agent-spawn.ts";
import { BudgetError, RunBudget } from "../../extensions/core/budget.ts";
import type { CheckRun } from "../../extensions/core/check-runner.ts";
import type { Factory } from "../../extensions/core/factory-api.ts";
import { Journal } from "../../extensions/core/journal.ts";
import { Limiter } from "../../extensions/core/limiter.ts";
import type { AgentProfile } from "../../extensions/loop/blueprint/agent-profile.ts";
import { type BlueprintDeps, createFactory, RunEndedError } from "../../extensions/loop/blueprint/factory.ts";
import type { LoopEvent } from "../../extensions/loop/events.ts";
import type { BlueprintState } from "../../extensions/loop/types.ts";
import { REPO_ROOT } from "../support/harness.ts";
import { tempTree } from "../support/temp-tree.ts";

interface Setup {
	/** Another attempt of a run: the journal file of an earlier harness. */
	journalFile?: string;
	maxSpawns?: number;
	maxCost?: number;
	concurrency?: number;
	profiles?: Record<string, AgentProfile>;
	/** Answers a spawn; may wait (a promise) to model a slow agent. */
	agent?: (request: AgentRunRequest) => Partial<AgentRunResult> | Promise<Partial<AgentRunResult>>;
	command?: (command: string) => Partial<CheckRun>;
	checkCommands?: Record<string, string>;
	hydrate?: BlueprintDeps["hydrate"];
	/** What earlier attempts paid for live (the run carries it over before the script starts again). */
	earlier?: { spawns: number; cost: number };
}

function harness(setup: Setup = {}) {
	const cwd = tempTree("factory-", {});
	const journalFile = setup.journalFile ?? join(cwd, "journal.jsonl");
	const state: BlueprintState = {
		file: join(cwd, "bp.ts"),
		args: [],
		attempts: 1,
		spawns: [],
		execs: [],
		logs: [],
		phases: [],
		metrics: {},
		values: {},
	};
	const events: LoopEvent[] = [];
	const agentRuns: AgentRunRequest[] = [];
	const commands: { command: string; cwd: string; timeoutMs: number }[] = [];
	const models: [string | undefined, string][] = [];
	const profilesAsked: string[] = [];
	const controller = new AbortController();
	const budget = new RunBudget({ maxSpawns: setup.maxSpawns ?? 50, maxCost: setup.maxCost });
	const closing = new AbortController();
	const inFlight = new Set<Promise<unknown>>();
	if (setup.earlier) budget.carryOver(setup.earlier.spawns, setup.earlier.cost);
	let stop = false;
	let running = 0;
	let most = 0;
	let saves = 0;
	const deps: BlueprintDeps = {
		closing: closing.signal,
		inFlight,
		cwd,
		runId: "run-1",
		args: ["a"],
		state,
		journal: new Journal(journalFile),
		budget,
		limiter: new Limiter(setup.concurrency ?? 4),
		signal: controller.signal,
		stopRequested: () => stop,
		spawnTimeoutMs: 1000,
		execTimeoutMs: 2000,
		defaultRole: "implement",
		resolveModel: (spec, role) => {
			models.push([spec, role]);
			const model = { provider: "fake", id: spec ?? `${role}-model` } as unknown as Model<Api>;
			return { model, thinking: "medium", role: spec ? "" : role };
		},
		profile: (agent) => {
			profilesAsked.push(agent);
			return setup.profiles?.[agent];
		},
		runAgent: async (request) => {
			agentRuns.push(request);
			running++;
			most = Math.max(most, running);
			try {
				const extra = await (setup.agent?.(request) ?? {});
				return {
					status: "ok",
					text: `did: ${request.prompt}`,
					stopReason: "stop",
					usage: { input: 10, output: 5, cacheRead: 0, cacheWrite: 0, cost: 0.1 },
					model: "",
					filesChanged: [],
					durationMs: 3,
					...extra,
				};
			} finally {
				running--;
			}
		},
		runCommand: async (command, dir, timeoutMs) => {
			commands.push({ command, cwd: dir, timeoutMs });
			return {
				exitCode: 0,
				output: `ran ${command}`,
				stdout: `ran ${command}`,
				stderr: "",
				durationMs: 2,
				timedOut: false,
				aborted: false,
				...setup.command?.(command),
			};
		},
		checkCommand: (name) => {
			const command = setup.checkCommands?.[name];
			if (!command) throw new Error(`no ${name} check in this project`);
			return command;
		},
		hydrate: setup.hydrate,
		event: (e) => events.push(e),
		save: () => saves++,
	};
	return {
		factory: createFactory(deps),
		cwd,
		journalFile,
		state,
		events,
		agentRuns,
		commands,
		models,
		profilesAsked,
		controller,
		closing,
		inFlight,
		budget,
		stop: () => {
			stop = true;
		},
		most: () => most,
		saves: () => saves,
	};
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const corpus = (file: string) =>
	readFileSync(join(REPO_ROOT, "test", "fixtures", "failure-corpus", "node-test-spec", file), "utf8");

/** A recorded run: three spawns and an exec, in order. */
async function script(factory: Factory, prompts = ["one", "two", "three"]) {
	const results = [];
	for (const prompt of prompts) results.push(await factory.spawn({ agent: "w", prompt }));
	await factory.exec("ls");
	return results;
}

describe("factory.spawn", () => {
	it("runs the agent on the resolved model and records the result, events, state and cost", async () => {
		const h = harness();
		const result = await h.factory.spawn({ prompt: "fix it", agent: "fixer", step: 1 });
		expect(result).toEqual({
			exitCode: 0,
			text: "did: fix it",
			errorMessage: undefined,
			stopReason: "stop",
			usage: { input: 10, output: 5, cacheRead: 0, cacheWrite: 0, cost: 0.1 },
			cost: 0.1,
			model: "fake/implement-model",
			role: "implement",
			durationMs: 3,
			filesChanged: [],
			agent: "fixer",
			step: 1,
		});
		expect(h.agentRuns[0]).toMatchObject({ prompt: "fix it", thinking: "medium", timeoutMs: 1000 });
		expect(h.agentRuns[0]?.appendSystemPrompt).toBeUndefined();
		expect(h.events.map((e) => e.type)).toEqual(["spawn_start", "spawn_end"]);
		expect(h.events[0]).toMatchObject({
			position: 0,
			agent: "fixer",
			model: "fake/implement-model",
			role: "implement",
		});
		expect(h.state.spawns).toMatchObject([{ position: 0, agent: "fixer", exitCode: 0, model: "fake/implement-model" }]);
		expect(h.saves()).toBe(1);
		expect(h.factory.budget).toMatchObject({ spawns: 1, spent: 0.1 });
	});

	it("reports an agent that did not finish as exitCode 1 with its error", async () => {
		const h = harness({ agent: () => ({ status: "timeout", error: "timed out", stopReason: "timeout" }) });
		const result = await h.factory.spawn({ prompt: "slow", timeout: 50 });
		expect(result).toMatchObject({ exitCode: 1, errorMessage: "timed out", stopReason: "timeout", agent: "agent" });
		expect(h.agentRuns[0]?.timeoutMs).toBe(50);
	});

	it("refuses a spawn without a prompt", async () => {
		const h = harness();
		await expect(h.factory.spawn({ prompt: " " })).rejects.toThrow("factory.spawn: prompt must be non-empty text");
		await expect(h.factory.spawn(undefined as never)).rejects.toThrow("factory.spawn expects an options object");
		expect(h.agentRuns).toHaveLength(0);
	});

	it("runs the spawn's check where the agent worked once it finished, and reports it with the spawn", async () => {
		const h = harness({
			checkCommands: { tests: "npm test" },
			command: (command) => (command === "npm test" ? { exitCode: 1, output: "1 failing\nnot ok 1 - adds" } : {}),
			agent: (request) => (request.prompt === "broken" ? { status: "error", error: "down", stopReason: "error" } : {}),
		});
		const result = await h.factory.spawn({ prompt: "p", check: "tests", step: 1 });
		expect(result.check).toEqual({
			command: "npm test",
			passed: false,
			exitCode: 1,
			timedOut: false,
			output: "1 failing\nnot ok 1 - adds",
		});
		expect(h.commands).toEqual([{ command: "npm test", cwd: h.cwd, timeoutMs: 2000 }]);
		expect(h.state.spawns[0]?.check).toEqual({ command: "npm test", passed: false });
		expect(h.state.logs.at(-1)?.message).toBe("agent #1: npm test failed where it worked");
		// An agent that did not finish normally gets no check; the option is part of the step (a changed check is a
		// changed step on resume).
		const failed = await h.factory.spawn({ prompt: "broken", check: "tests" });
		expect(failed.check).toBeUndefined();
		expect(h.commands).toHaveLength(1);
		await expect(h.factory.spawn({ prompt: "p", check: " " })).rejects.toThrow("factory.spawn: check must be");
	});

	it("runs a spawn and a loop in a folder of the script's: the agent, its check, the loop's check there", async () => {
		const h = harness({ checkCommands: { tests: "npm test" } });
		const where = join(h.cwd, "elsewhere");
		await h.factory.spawn({ prompt: "p", cwd: where, check: "tests" });
		expect(h.agentRuns[0]?.cwd).toBe(where);
		await h.factory.loop({ check: "tests", prompt: "fix", cwd: "elsewhere", max: 1 });
		expect(h.commands.map((c) => c.cwd)).toEqual([where, where]);
		await expect(h.factory.spawn({ prompt: "p", cwd: "x", isolation: "worktree" })).rejects.toThrow(
			'factory.spawn: cwd and isolation "worktree" do not combine',
		);
	});

	it("puts the hydration block before the prompt when asked", async () => {
		const h = harness({ hydrate: async (task) => `<context for ${task}>` });
		await h.factory.spawn({ prompt: "p", hydrate: true });
		await h.factory.spawn({ prompt: "q", hydrate: "the task" });
		expect(h.agentRuns.map((r) => r.prompt)).toEqual(["<context for p>\n\np", "<context for the task>\n\nq"]);
	});
});

describe("journal replay", () => {
	it("returns recorded results without calling the agent, reports `replayed`, then runs live", async () => {
		const first = harness();
		const recorded = await script(first.factory);
		expect(first.agentRuns).toHaveLength(3);

		const second = harness({ journalFile: first.journalFile, earlier: { spawns: 3, cost: 0.3 } });
		const replayed = await script(second.factory);
		const fourth = await second.factory.spawn({ agent: "w", prompt: "four" });
		expect(second.agentRuns.map((r) => r.prompt)).toEqual(["four"]);
		expect(second.commands).toHaveLength(0); // the exec replayed too
		expect(replayed).toEqual(recorded.map((r) => ({ ...r, replayed: true })));
		expect(fourth.replayed).toBeUndefined();
		const replay = second.events.filter((e) => e.type === "replayed");
		expect(replay).toEqual([{ type: "replayed", steps: 4, position: 4, detail: "not recorded" }]);
		const types = second.events.map((e) => e.type);
		expect(types.indexOf("replayed")).toBeLessThan(types.indexOf("spawn_start"));
		expect(second.state.spawns.map((s) => s.replayed)).toEqual([true, true, true, undefined]);
		expect(second.state.execs).toMatchObject([{ command: "ls", replayed: true }]);
		// Replayed spawns were paid once, by the earlier attempt the run carried over: replay adds nothing to it.
		expect(second.factory.budget.spawns).toBe(4);
		expect(second.factory.budget.spent).toBeCloseTo(0.4);
	});

	it("runs a step with a changed prompt live, and every step after it", async () => {
		const first = harness();
		await script(first.factory);
		const second = harness({ journalFile: first.journalFile });
		const results = await script(second.factory, ["one", "TWO", "three"]);
		expect(results.map((r) => r.replayed)).toEqual([true, undefined, undefined]);
		expect(second.agentRuns.map((r) => r.prompt)).toEqual(["TWO", "three"]);
		expect(second.commands.map((c) => c.command)).toEqual(["ls"]);
		expect(second.events.filter((e) => e.type === "replayed")).toEqual([
			{ type: "replayed", steps: 1, position: 1, detail: "spawn step 2 was recorded with other options" },
		]);
		// A third attempt replays the second attempt's steps, not the first's.
		const third = harness({ journalFile: first.journalFile });
		const again = await script(third.factory, ["one", "TWO", "three"]);
		expect(third.agentRuns).toHaveLength(0);
		expect(again[1]?.text).toBe("did: TWO");
	});

	it("replays a check: the recorded output gives the same failures", async () => {
		const output = corpus("fail-1.txt");
		const first = harness({ command: () => ({ exitCode: 1, output }) });
		const live = await first.factory.check("node --test");
		const second = harness({ journalFile: first.journalFile, command: () => ({ exitCode: 0 }) });
		const replayed = await second.factory.check("node --test");
		expect(second.commands).toHaveLength(0);
		expect(replayed).toEqual({ ...live, replayed: true });
	});
});

describe("limits and ending", () => {
	it("runs at most --concurrency spawns at once under Promise.all", async () => {
		const release: (() => void)[] = [];
		const h = harness({
			concurrency: 2,
			agent: () => new Promise<Partial<AgentRunResult>>((resolve) => release.push(() => resolve({}))),
		});
		const all = Promise.all(["a", "b", "c"].map((prompt) => h.factory.spawn({ prompt })));
		await tick();
		expect(h.agentRuns.map((r) => r.prompt)).toEqual(["a", "b"]);
		release[0]?.();
		await tick();
		expect(h.agentRuns.map((r) => r.prompt)).toEqual(["a", "b", "c"]);
		release[1]?.();
		release[2]?.();
		const results = await all;
		expect(results.map((r) => r.text)).toEqual(["did: a", "did: b", "did: c"]);
		expect(h.most()).toBe(2);
		expect(h.state.spawns.map((s) => s.position).sort()).toEqual([0, 1, 2]);
	});

	it("refuses a spawn past --max-spawns with a BudgetError, without calling the agent", async () => {
		const h = harness({ maxSpawns: 1 });
		await h.factory.spawn({ prompt: "one" });
		await expect(h.factory.spawn({ prompt: "two" })).rejects.toBeInstanceOf(BudgetError);
		expect(h.agentRuns).toHaveLength(1);
		expect(h.budget.exceeded).toMatch(/--max-spawns 1 reached/);
		expect(h.factory.budget.spawnsRemaining).toBe(0);
	});

	it("refuses a spawn once --max-cost is spent", async () => {
		const h = harness({ maxCost: 0.15 });
		await h.factory.spawn({ prompt: "one" });
		await h.factory.spawn({ prompt: "two" });
		await expect(h.factory.spawn({ prompt: "three" })).rejects.toThrow(/--max-cost \$0.15 reached: \$0.2000 spent/);
		expect(h.agentRuns).toHaveLength(2);
		expect(h.factory.budget.remaining).toBe(0);
	});

	it("refuses every step with a RunEndedError once /loop stop was asked for", async () => {
		const h = harness({ checkCommands: { tests: "npm test" } });
		await h.factory.spawn({ prompt: "before" });
		h.stop();
		await expect(h.factory.spawn({ prompt: "after" })).rejects.toBeInstanceOf(RunEndedError);
		await expect(h.factory.spawn({ prompt: "after" })).rejects.toThrow("the run was stopped by /loop stop");
		await expect(h.factory.exec("ls")).rejects.toBeInstanceOf(RunEndedError);
		await expect(h.factory.check("tests")).rejects.toBeInstanceOf(RunEndedError);
		expect(h.agentRuns).toHaveLength(1);
		expect(h.commands).toHaveLength(0);
	});

	it("refuses steps after the run's signal was aborted, naming the reason", async () => {
		const h = harness();
		h.controller.abort("timeout");
		await expect(h.factory.spawn({ prompt: "p" })).rejects.toThrow(new RunEndedError("the run was timeout"));
		await expect(h.factory.exec("ls")).rejects.toThrow("the run was timeout");
		expect(h.factory.signal.aborted).toBe(true);
	});
});

describe("models and agent profiles", () => {
	it("asks resolveModel with the spawn's model, else its role, else the run's role", async () => {
		const h = harness();
		const named = await h.factory.spawn({ prompt: "p", model: "x/y" });
		const byRole = await h.factory.spawn({ prompt: "p", role: "review" });
		await h.factory.spawn({ prompt: "p" });
		expect(h.models).toEqual([
			["x/y", "implement"],
			[undefined, "review"],
			[undefined, "implement"],
		]);
		expect(named).toMatchObject({ model: "fake/x/y", role: "" });
		expect(byRole).toMatchObject({ model: "fake/review-model", role: "review" });
		expect(h.events.filter((e) => e.type === "spawn_start").map((e) => (e as { model: string }).model)).toEqual([
			"fake/x/y",
			"fake/review-model",
			"fake/implement-model",
		]);
	});

	it("prefers the model the agent answered with for the result", async () => {
		const h = harness({ agent: () => ({ model: "other/fallback" }) });
		expect((await h.factory.spawn({ prompt: "p" })).model).toBe("other/fallback");
	});

	it("merges the agent's profile: instructions before systemPrompt, model, tools and thinking as defaults", async () => {
		const profile: AgentProfile = {
			file: "reviewer.md",
			model: "p/m",
			tools: ["read"],
			thinking: "low",
			instructions: "You review.",
		};
		const h = harness({ profiles: { reviewer: profile } });
		await h.factory.spawn({ agent: "reviewer", prompt: "look", systemPrompt: "Be terse." });
		expect(h.agentRuns[0]).toMatchObject({ appendSystemPrompt: "You review.\n\nBe terse.", tools: ["read"] });
		expect(h.agentRuns[0]?.thinking).toBe("low");
		expect(h.models[0]).toEqual(["p/m", "implement"]);

		await h.factory.spawn({ agent: "reviewer", prompt: "look", model: "a/b", tools: ["bash"], thinking: "high" });
		expect(h.agentRuns[1]).toMatchObject({ appendSystemPrompt: "You review.", tools: ["bash"], thinking: "high" });
		expect(h.models[1]).toEqual(["a/b", "implement"]);

		await h.factory.spawn({ prompt: "no agent", systemPrompt: "Only this." });
		expect(h.agentRuns[2]?.appendSystemPrompt).toBe("Only this.");
		expect(h.profilesAsked).toEqual(["reviewer", "reviewer"]);
	});

	it("makes a changed profile a changed step on resume", async () => {
		const profile: AgentProfile = { file: "w.md", tools: ["read"] };
		const first = harness({ profiles: { w: profile } });
		await first.factory.spawn({ agent: "w", prompt: "p" });
		const second = harness({ journalFile: first.journalFile, profiles: { w: { ...profile, tools: ["bash"] } } });
		expect((await second.factory.spawn({ agent: "w", prompt: "p" })).replayed).toBeUndefined();
		expect(second.agentRuns).toHaveLength(1);
	});
});

describe("factory.check and factory.exec", () => {
	it("resolves a named check through checkCommand and identifies node --test failures", async () => {
		const outputs: Record<string, string> = { "fail-2": corpus("fail-2.txt"), "fail-1": corpus("fail-1.txt") };
		let next = "fail-2";
		const h = harness({
			checkCommands: { tests: "node --test" },
			command: () => ({ exitCode: 1, output: outputs[next], stdout: outputs[next] }),
		});
		const result = await h.factory.check("tests");
		expect(result).toMatchObject({ command: "node --test", exitCode: 1, passed: false, noTests: undefined });
		expect(result.failures).toEqual([
			"node-test: test/add.test.js › adds numbers",
			"node-test: test/ops.test.js › multiplies numbers",
		]);
		expect(result.fingerprint).toMatch(/^[0-9a-f]{16}$/);
		expect(h.commands).toEqual([{ command: "node --test", cwd: h.cwd, timeoutMs: 2000 }]);
		expect(h.state.execs).toMatchObject([{ position: 0, kind: "check", command: "node --test", failures: 2 }]);
		expect(h.events).toMatchObject([{ type: "exec", kind: "check", exitCode: 1, failures: 2 }]);
		// Another run of the same failure has the same fingerprint.
		next = "fail-1";
		expect((await h.factory.check("tests")).fingerprint).toBe(result.fingerprint);
	});

	it("tells a partial fix and a pass apart by fingerprint", async () => {
		let output = corpus("fail-1.txt");
		let exitCode = 1;
		const h = harness({ command: () => ({ exitCode, output }) });
		const before = await h.factory.check("node --test");
		output = corpus("partial.txt");
		const partial = await h.factory.check("node --test");
		expect(partial.failures).toEqual(["node-test: test/add.test.js › adds numbers"]);
		expect(partial.fingerprint).not.toBe(before.fingerprint);
		output = corpus("fixed.txt");
		exitCode = 0;
		expect(await h.factory.check("node --test")).toMatchObject({ passed: true, failures: [] });
	});

	it("runs a check that is not a name as a command, and passes checkCommand's error on", async () => {
		const h = harness();
		await expect(h.factory.check("lint")).rejects.toThrow("no lint check in this project");
		expect((await h.factory.check("make check")).command).toBe("make check");
		expect(h.commands.map((c) => c.command)).toEqual(["make check"]);
	});

	it("runs exec in a folder of the project with its own timeout", async () => {
		const h = harness({ command: () => ({ exitCode: 3, stdout: "out", stderr: "err", output: "out\nerr" }) });
		const result = await h.factory.exec("make", { cwd: "sub/dir", timeout: 5 });
		expect(result).toEqual({
			exitCode: 3,
			stdout: "out",
			stderr: "err",
			output: "out\nerr",
			durationMs: 2,
			timedOut: false,
		});
		expect(h.commands).toEqual([{ command: "make", cwd: join(h.cwd, "sub", "dir"), timeoutMs: 5 }]);
		await expect(h.factory.exec("")).rejects.toThrow("factory.exec: command must be non-empty text");
	});
});

describe("factory.observe, state and hydrate", () => {
	it("logs at the four levels and refuses any other", () => {
		const h = harness();
		h.factory.observe.log("info", "hello", { n: 1 });
		h.factory.observe.log("warning", "careful");
		expect(() => h.factory.observe.log("warn" as never, "x")).toThrow(
			'factory.observe.log: level must be debug, info, warning or error, got "warn"',
		);
		expect(h.state.logs).toMatchObject([
			{ level: "info", message: "hello", data: { n: 1 } },
			{ level: "warning", message: "careful" },
		]);
		expect("data" in (h.state.logs[1] as object)).toBe(false);
		expect(h.events).toEqual([
			{ type: "log", level: "info", message: "hello", data: { n: 1 } },
			{ type: "log", level: "warning", message: "careful", data: undefined },
		]);
	});

	it("keeps finite metrics and refuses others", () => {
		const h = harness();
		h.factory.observe.metric("failures", 3);
		h.factory.observe.metric("ratio", -0.5);
		for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "3" as never])
			expect(() => h.factory.observe.metric("bad", bad)).toThrow(TypeError);
		expect(() => h.factory.observe.metric("bad", Number.NaN)).toThrow('"bad" needs a finite number, got NaN');
		expect(h.state.metrics).toEqual({ failures: 3, ratio: -0.5 });
		expect(h.events.filter((e) => e.type === "metric")).toHaveLength(2);
	});

	it("records phases and exposes state, args and the run id", () => {
		const h = harness();
		h.factory.observe.phase("build");
		h.factory.state.done = 2;
		expect(h.state.phases).toEqual(["build"]);
		expect(h.state.values).toEqual({ done: 2 });
		expect(h.factory.args).toEqual(["a"]);
		expect(h.factory.runId).toBe("run-1");
	});

	it("hydrates through the hydrate service, and says when it is not loaded", async () => {
		const h = harness({ hydrate: async (task, budget) => `${task}/${budget}` });
		await expect(h.factory.hydrate("t", { budget: 100 })).resolves.toBe("t/100");
		await expect(harness().factory.hydrate("t")).rejects.toThrow("hydrate extension is not loaded");
		await expect(h.factory.hydrate("")).rejects.toThrow("factory.hydrate: task must be non-empty text");
	});
});

describe("factory.loop", () => {
	it("runs the loop over the factory's own spawn and check (journaled, so it replays too)", async () => {
		let checks = 0;
		const h = harness({ command: () => (++checks < 3 ? { exitCode: 1, output: `fail ${checks}` } : {}) });
		const outcome = await h.factory.loop({ check: "npm test", prompt: "fix" });
		expect(outcome).toMatchObject({ reason: "passed", iterations: 2 });
		expect(h.agentRuns).toHaveLength(2);
		expect(h.agentRuns[0]?.prompt).toContain("fail 1");
		expect(h.state.spawns.map((s) => s.agent)).toEqual(["loop", "loop"]);

		const again = harness({ journalFile: h.journalFile, command: () => ({ exitCode: 1 }) });
		await expect(again.factory.loop({ check: "npm test", prompt: "fix" })).resolves.toMatchObject({ reason: "passed" });
		expect(again.agentRuns).toHaveLength(0);
		expect(again.commands).toHaveLength(0);
	});
});

describe("steps waiting for a slot", () => {
	const slow = (cost: number) => async () => {
		await new Promise((r) => setTimeout(r, 20));
		return { usage: { input: 1, output: 1, cacheRead: 0, cacheWrite: 0, cost } };
	};

	it("obey /loop stop given while they wait: only the running spawn finishes", async () => {
		const h = harness({ concurrency: 1, agent: slow(0) });
		const all = [1, 2, 3, 4].map((n) => h.factory.spawn({ prompt: `p${n}` }));
		await new Promise((r) => setTimeout(r, 5));
		h.stop();
		const settled = await Promise.allSettled(all);
		expect(settled.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "rejected"]);
		expect(h.agentRuns).toHaveLength(1);
	});

	it("are checked against --max-cost when they start, so queued spawns see what the running ones spent", async () => {
		const h = harness({ concurrency: 1, maxCost: 0.15, agent: slow(0.1) });
		const settled = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => h.factory.spawn({ prompt: `p${n}` })));
		expect(h.agentRuns).toHaveLength(2);
		expect(settled.filter((r) => r.status === "rejected")).toHaveLength(3);
		expect(h.budget.exceeded).toContain("--max-cost");
	});

	it("are tracked until they settle, and refused once the script has settled (closing)", async () => {
		const h = harness({ concurrency: 1, agent: slow(0) });
		const first = h.factory.spawn({ prompt: "p1" });
		const second = h.factory.spawn({ prompt: "p2" });
		expect(h.inFlight.size).toBe(2);
		h.closing.abort("the script settled");
		await expect(h.factory.exec("true")).rejects.toThrow("the script has already returned or thrown");
		await Promise.allSettled([first, second]);
		expect(h.inFlight.size).toBe(0);
		await expect(second).rejects.toThrow(RunEndedError);
	});
});
