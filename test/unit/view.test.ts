/** Unit tests: widget/status text, the failure trend, the report table and the iteration prompt. */
import { describe, expect, it } from "vitest";
import { hasPromise } from "../../extensions/loop/agent-answer.ts";
import { renderBlueprintReport } from "../../extensions/loop/blueprint/blueprint-report.ts";
import { buildIterationPrompt } from "../../extensions/loop/prompt.ts";
import { renderReport } from "../../extensions/loop/report.ts";
import type { CheckRecord, LoopState } from "../../extensions/loop/types.ts";
import { DEFAULT_OPTIONS } from "../../extensions/loop/types.ts";
import { formatDuration, statusText, trend, widgetLines } from "../../extensions/loop/view.ts";

const check = (failures: number | undefined, exitCode = 1): CheckRecord => ({
	exitCode,
	failures,
	durationMs: 10,
	timedOut: false,
	fingerprint: String(failures),
	tail: `${failures} failed`,
});
const usage = (cost: number) => ({ input: 10, output: 5, cacheRead: 0, cacheWrite: 0, cost });

function sample(): LoopState {
	return {
		version: 1,
		runId: "r1",
		preset: "tests",
		check: "npm test",
		checkSource: 'package.json script "test"',
		goal: "Make the tests pass",
		options: DEFAULT_OPTIONS,
		status: "running",
		startedAt: "2026-01-01T00:00:00Z",
		elapsedMs: 92_000,
		checks: [check(4), check(3), check(2)],
		history: [1, 2].map((n) => ({
			n,
			startedAt: "",
			durationMs: 1000,
			agent: "ok" as const,
			filesChanged: ["src/a.ts"],
			usage: usage(0.06),
			summary: `fixed ${n}`,
			promiseMade: false,
			checkBefore: n - 1,
			checkAfter: n,
		})),
		current: { n: 3, startedAt: "" },
		pid: 1,
	};
}

describe("view", () => {
	it("renders the widget line the issue describes", () => {
		expect(widgetLines(sample(), 92_000)[0]).toBe("loop tests · 3/10 · failing 4→2 · 1m32s · $0.12");
		expect(statusText(sample())).toBe("⟳ loop 3/10 failing 4→2");
	});
	it("draws a failure trend, marking unknown counts", () => {
		expect(trend([check(4), check(2), check(0, 0)])).toBe("█▅▁");
		expect(trend([check(undefined), check(1)])).toBe("✗█");
	});
	it("shows a check that found no tests as such, in the trend, status, prompt and report", () => {
		const state = sample();
		const none: CheckRecord = { ...check(0, 5), identity: "no-tests", noTests: "pytest: no tests ran" };
		state.checks = [none];
		state.history = [];
		state.current = undefined;
		expect(trend(state.checks)).toBe("○");
		expect(statusText(state)).toBe("⟳ loop 0/10 failing no tests");
		const prompt = buildIterationPrompt(state, 1);
		expect(prompt).toContain("latest run failed (exit 5, no tests found — pytest: no tests ran)");
		expect(prompt).toContain("## No tests found\nThe check ran but found no tests at all");
		expect(buildIterationPrompt(sample(), 3)).not.toContain("No tests found");
		state.history = [{ ...sample().history[0]!, checkBefore: 0, checkAfter: 0 }];
		expect(renderReport(state)).toContain("exit 5 (no tests)");
	});
	it("formats durations compactly", () => {
		expect([500, 12_000, 92_000, 3_720_000].map(formatDuration)).toEqual(["0.5s", "12s", "1m32s", "1h02m"]);
	});
});

describe("report", () => {
	it("has a row per iteration and totals", () => {
		const state = { ...sample(), status: "ended" as const, reason: "max-iterations" as const, current: undefined };
		const md = renderReport(state);
		expect(md).toContain("# Loop report r1");
		expect(md).toContain("**max-iterations** — iteration limit reached");
		expect(md).toContain("| 1 | exit 1 (4) | exit 1 (3) | src/a.ts | ok | — | 10/5 | $0.06 | 1.0s | fixed 1 |");
		expect(md).toContain("**Totals:** 2 iterations · 3 check runs · 20 input / 10 output tokens");
		expect(md).toContain("$0.12");
	});
});

describe("blueprint report", () => {
	it("lists the phases and shows factory.state as the script left it", () => {
		const state: LoopState = {
			...sample(),
			preset: "run",
			status: "ended",
			reason: "completed",
			blueprint: {
				file: "/p/blueprints/progress-tracking.ts",
				args: ["tests"],
				attempts: 1,
				spawns: [],
				execs: [],
				logs: [],
				phases: ["fixing tests", "review"],
				metrics: { failures: 1 },
				values: { progress: { counts: [3, 1, 0], best: 1 } },
			},
		};
		const report = renderBlueprintReport(state);
		expect(report).toContain("## Phases\n\n1. fixing tests\n2. review\n");
		expect(report).toContain('## State\n\n```json\n{\n  "progress": {\n    "counts": [\n      3,');
		const empty = renderBlueprintReport({ ...state, blueprint: { ...state.blueprint!, phases: [], values: {} } });
		expect(empty).not.toContain("## Phases");
		expect(empty).not.toContain("## State");
	});
});

describe("iteration prompt", () => {
	it("carries goal, position, check, output tail and digest", () => {
		const prompt = buildIterationPrompt(sample(), 3);
		expect(prompt).toContain("# Loop iteration 3 of 10");
		expect(prompt).toContain("Make the tests pass");
		expect(prompt).toContain("`npm test` — latest run failed (exit 1, 2 failures)");
		expect(prompt).toContain("2 failed");
		expect(prompt).toContain('- #2: changed src/a.ts · failures 3→2 · said: "fixed 2"');
		expect(prompt).not.toContain("<promise>");
	});
	it("uses custom instructions and asks for the promise when set", () => {
		const state = { ...sample(), instructions: "Only touch src/.", options: { ...DEFAULT_OPTIONS, promise: "DONE" } };
		const prompt = buildIterationPrompt(state, 3);
		expect(prompt).toContain("Only touch src/.");
		expect(prompt).not.toContain("Keep the change small");
		expect(prompt).toContain("<promise>DONE</promise>");
		expect(hasPromise("ok <promise>DONE</promise>", "DONE")).toBe(true);
		expect(hasPromise("<promise>done</promise>", "DONE")).toBe(false);
	});
});
