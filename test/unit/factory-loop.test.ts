/**
 * Unit tests: factory.loop (runLoopSpec) — check, spawn with the failures, check again, ended by the loop engine's
 * stop rules: passed, max-iterations, stagnation, the same failure again (stagnation), agent failures (failures).
 */
import { describe, expect, it } from "vitest";
import type { CheckResult, LoopSpec, SpawnOptions, SpawnResult } from "../../extensions/core/factory-api.ts";
import { type LoopSteps, loopPrompt, runLoopSpec } from "../../extensions/loop/blueprint/factory-loop.ts";
import { failing, passing, spawnResult } from "../support/fake-factory.ts";

/** Steps answering checks from `checks` (the last repeats) and spawns from `spawn` (default: changes a file). */
function steps(checks: CheckResult[], spawn: (o: SpawnOptions, i: number) => Partial<SpawnResult> = () => ({})) {
	const spawned: SpawnOptions[] = [];
	const checked: string[] = [];
	const fake: LoopSteps = {
		check: async (check) => {
			checked.push(check);
			return checks[Math.min(checked.length - 1, checks.length - 1)] as CheckResult;
		},
		spawn: async (options) => {
			spawned.push(options);
			return spawnResult(options, { filesChanged: ["a.ts"], ...spawn(options, spawned.length - 1) });
		},
	};
	return { fake, spawned, checked };
}

describe("runLoopSpec", () => {
	it("ends 'passed' without a spawn when the first check passes", async () => {
		const s = steps([passing()]);
		await expect(runLoopSpec({ check: "tests", prompt: "fix" }, s.fake)).resolves.toMatchObject({
			reason: "passed",
			iterations: 0,
		});
		expect(s.spawned).toHaveLength(0);
		expect(s.checked).toEqual(["tests"]);
	});

	it("spawns with the task and the check's output until the check passes", async () => {
		const s = steps([failing(["a", "b"], { command: "npm test" }), failing(["b"]), passing()]);
		const outcome = await runLoopSpec({ check: "npm test", prompt: "Make the tests pass." }, s.fake);
		expect(outcome).toMatchObject({ reason: "passed", iterations: 2, last: { passed: true } });
		expect(s.checked).toEqual(["npm test", "npm test", "npm test"]);
		expect(s.spawned.map((o) => [o.agent, o.step])).toEqual([
			["loop", 1],
			["loop", 2],
		]);
		expect(s.spawned[0]?.prompt).toBe(
			"Make the tests pass.\n\nThe check `npm test` exits 1. Its output ends:\n\nFAIL a\nFAIL b",
		);
		expect(s.spawned[1]?.prompt).toContain("FAIL b");
		expect(s.spawned[1]?.prompt).not.toContain("FAIL a");
	});

	it("ends 'max-iterations' after max spawns that made progress without passing", async () => {
		const checks = Array.from({ length: 10 }, (_, i) => failing([`f${i}`]));
		const s = steps(checks);
		const outcome = await runLoopSpec({ check: "tests", prompt: "fix", max: 3 }, s.fake);
		expect(outcome).toMatchObject({ reason: "max-iterations", iterations: 3, last: { failures: ["f3"] } });
		expect(s.spawned).toHaveLength(3);
		expect(s.checked).toHaveLength(4);
	});

	it("ends 'stagnation' after `stagnation` iterations that changed nothing and left the same failures", async () => {
		const s = steps([failing(["x"])], () => ({ filesChanged: [] }));
		await expect(runLoopSpec({ check: "tests", prompt: "fix" }, s.fake)).resolves.toMatchObject({
			reason: "stagnation",
			iterations: 3,
		});
		const two = steps([failing(["x"])], () => ({ filesChanged: [] }));
		await expect(runLoopSpec({ check: "tests", prompt: "fix", stagnation: 2 }, two.fake)).resolves.toMatchObject({
			reason: "stagnation",
			iterations: 2,
		});
	});

	it("ends 'stagnation' when the same failure comes back `sameFailure` checks in a row, files changed", async () => {
		const s = steps([failing(["x"])]);
		await expect(runLoopSpec({ check: "tests", prompt: "fix", sameFailure: 2 }, s.fake)).resolves.toMatchObject({
			reason: "stagnation",
			iterations: 1,
		});
		const byDefault = steps([failing(["x"])]);
		await expect(runLoopSpec({ check: "tests", prompt: "fix" }, byDefault.fake)).resolves.toMatchObject({
			reason: "stagnation",
			iterations: 4, // five checks in a row
		});
	});

	it("ends 'failures' after `maxFailures` agent errors in a row", async () => {
		const s = steps([failing(["x"]), failing(["y"]), failing(["z"])], () => ({ exitCode: 1, errorMessage: "down" }));
		await expect(runLoopSpec({ check: "tests", prompt: "fix" }, s.fake)).resolves.toMatchObject({
			reason: "failures",
			iterations: 2,
		});
		const three = steps([failing(["x"]), failing(["y"])], (_, i) => (i === 1 ? {} : { exitCode: 1 }));
		const outcome = await runLoopSpec({ check: "tests", prompt: "fix", maxFailures: 2, max: 4 }, three.fake);
		expect(outcome.iterations).toBe(4); // an agent success in between resets the count
	});

	it("calls a spawn function with the iteration and the last check; a SpawnResult it returns is used", async () => {
		const s = steps([failing(["x"]), failing(["y"]), passing()]);
		const calls: [number, string[]][] = [];
		const spec: LoopSpec = {
			check: "lint",
			spawn: (n, last) => {
				calls.push([n, last.failures]);
				if (n === 1) return { prompt: `fix ${last.failures.join()}`, agent: "fixer", step: n };
				return Promise.resolve(spawnResult({ prompt: "" }, { filesChanged: ["b.ts"] }));
			},
		};
		await expect(runLoopSpec(spec, s.fake)).resolves.toMatchObject({ reason: "passed", iterations: 2 });
		expect(calls).toEqual([
			[1, ["x"]],
			[2, ["y"]],
		]);
		expect(s.spawned).toEqual([{ prompt: "fix x", agent: "fixer", step: 1 }]);
	});

	it.each([
		[{ prompt: "p" }, "check must name a check"],
		[{ check: " ", prompt: "p" }, "check must name a check"],
		[{ check: "tests" }, "give exactly one of prompt (text) or spawn (a function)"],
		[{ check: "tests", prompt: "p", spawn: () => ({ prompt: "p" }) }, "give exactly one of prompt"],
		[{ check: "tests", prompt: "  " }, "prompt must be non-empty text"],
		[{ check: "tests", prompt: "p", max: 0 }, "max must be a whole number of at least 1, got 0"],
		[{ check: "tests", prompt: "p", max: 1.5 }, "max must be a whole number of at least 1, got 1.5"],
		[{ check: "tests", prompt: "p", stagnation: 0 }, "stagnation must be a whole number of at least 1"],
		[{ check: "tests", prompt: "p", sameFailure: 1 }, "sameFailure must be a whole number of at least 2, got 1"],
		[{ check: "tests", prompt: "p", maxFailures: -1 }, "maxFailures must be a whole number of at least 1"],
	])("refuses %j before any check runs", async (spec, message) => {
		const s = steps([passing()]);
		await expect(runLoopSpec(spec as LoopSpec, s.fake)).rejects.toThrow(`factory.loop: ${message}`);
		await expect(runLoopSpec(spec as LoopSpec, s.fake)).rejects.toBeInstanceOf(TypeError);
		expect(s.checked).toHaveLength(0);
	});

	it("refuses a missing spec", async () => {
		await expect(runLoopSpec(undefined as unknown as LoopSpec, steps([passing()]).fake)).rejects.toThrow(
			"factory.loop: check must name a check",
		);
	});
});

describe("loopPrompt", () => {
	it("keeps the tail of a long output", () => {
		const output = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join("\n");
		const prompt = loopPrompt("task", failing([], { output, command: "c", exitCode: 2 }));
		expect(prompt.startsWith("task\n\nThe check `c` exits 2. Its output ends:\n\n")).toBe(true);
		expect(prompt).toContain("earlier bytes cut");
		expect(prompt.endsWith("line 1999")).toBe(true);
		expect(prompt).not.toContain("line 0\n");
	});
});
