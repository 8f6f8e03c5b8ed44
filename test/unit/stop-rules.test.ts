/** Unit tests: stagnation, same-failure and consecutive-failure rules. */
import { describe, expect, it } from "vitest";
import { limitReached, madeProgress } from "../../extensions/loop/stop-rules.ts";
import type { CheckRecord, IterationRecord } from "../../extensions/loop/types.ts";
import { DEFAULT_OPTIONS } from "../../extensions/loop/types.ts";

const check = (fp: string, exitCode = 1): CheckRecord => ({
	exitCode,
	durationMs: 1,
	timedOut: false,
	fingerprint: fp,
	tail: "",
});
const iteration = (n: number, files: string[], agent: IterationRecord["agent"] = "ok"): IterationRecord => ({
	n,
	startedAt: "",
	durationMs: 1,
	agent,
	filesChanged: files,
	usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: 0 },
	summary: "",
	promiseMade: false,
	checkBefore: n - 1,
	checkAfter: n,
});

describe("madeProgress", () => {
	it("counts changed files or a changed check result as progress", () => {
		const checks = [check("a"), check("a"), check("b")];
		expect(madeProgress(iteration(1, []), checks)).toBe(false);
		expect(madeProgress(iteration(1, ["x.ts"]), checks)).toBe(true);
		expect(madeProgress(iteration(2, []), checks)).toBe(true);
	});
});

describe("limitReached", () => {
	const opts = { ...DEFAULT_OPTIONS, stagnation: 3, sameFailure: 4, maxFailures: 2 };
	it("stops after N iterations in a row without progress", () => {
		const checks = [check("a"), check("a"), check("a"), check("a")];
		const history = [iteration(1, []), iteration(2, []), iteration(3, [])];
		expect(limitReached(history.slice(0, 2), checks.slice(0, 3), opts)).toBeUndefined();
		expect(limitReached(history, checks, opts)).toMatchObject({
			reason: "stagnation",
			detail: expect.stringContaining("3 iterations in a row"),
		});
	});
	it("progress in between resets the stagnation count", () => {
		const checks = [check("a"), check("a"), check("b"), check("b"), check("b")];
		const history = [iteration(1, []), iteration(2, []), iteration(3, []), iteration(4, [])];
		expect(limitReached(history, checks, opts)).toBeUndefined();
	});
	it("stops when the same failure repeats M checks in a row even though files change", () => {
		const checks = [check("a"), check("a"), check("a"), check("a")];
		const history = [iteration(1, ["f"]), iteration(2, ["f"]), iteration(3, ["f"])];
		expect(limitReached(history, checks, opts)).toMatchObject({
			reason: "stagnation",
			detail: expect.stringContaining("same failure was seen 4 checks in a row"),
		});
		expect(limitReached(history.slice(0, 2), checks.slice(0, 3), opts)).toBeUndefined();
	});
	it("agent errors do not count toward stagnation", () => {
		const checks = [check("a"), check("a"), check("a"), check("a"), check("a")];
		const history = [iteration(1, []), iteration(2, [], "error"), iteration(3, [], "error"), iteration(4, [])];
		expect(limitReached(history, checks, { ...opts, maxFailures: 5, sameFailure: 50 })).toBeUndefined();
	});
	it("stops after consecutive agent errors", () => {
		const checks = [check("a"), check("b"), check("c")];
		const history = [iteration(1, [], "error"), { ...iteration(2, [], "error"), error: "rate limited" }];
		expect(limitReached(history, checks, opts)).toEqual({
			reason: "failures",
			detail: "2 consecutive agent errors (last: rate limited)",
		});
		expect(limitReached([iteration(1, [], "error"), iteration(2, ["x"])], checks, opts)).toBeUndefined();
	});
});
