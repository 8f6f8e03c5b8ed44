/** Unit tests: ANSI stripping, output tails, normalization, fingerprints, failure counts. */
import { describe, expect, it } from "vitest";
import { fingerprint, normalizeOutput, outputTail, parseFailureCount, stripAnsi } from "../../extensions/core/check-output.ts";

describe("output helpers", () => {
	it("strips ANSI colours and cursor codes", () => {
		expect(stripAnsi("\u001b[31mFAIL\u001b[39m \u001b[2Kdone\u001b]0;title\u0007")).toBe("FAIL done");
	});
	it("keeps the last bytes of long output and says what was cut", () => {
		const long = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join("\n");
		const tail = outputTail(long, 500);
		expect(Buffer.byteLength(tail)).toBeLessThan(600);
		expect(tail).toMatch(/^\[… \d+ earlier bytes cut …\]\n/);
		expect(tail.endsWith("line 1999")).toBe(true);
		expect(outputTail("short")).toBe("short");
	});
	it("removes run-to-run noise so equal failures have equal fingerprints", () => {
		const a = "\u001b[32m✓\u001b[0m parse 12ms\nFAIL at 2026-11-21T08:00:01.123Z pid 4242 buffer 0x7ffde4a1\nDuration 1.52s\n 1 failed";
		const b = "✓ parse 340ms\nFAIL at 2026-11-22T09:13:44.999Z pid 99 buffer 0x55aa00ff\nDuration 0.9s\n 1 failed";
		expect(normalizeOutput(a)).toBe(normalizeOutput(b));
		expect(fingerprint(1, a)).toBe(fingerprint(1, b));
	});
	it("ignores timing fields of TAP and JSON reporters", () => {
		expect(normalizeOutput("  duration_ms: 3.974469\n")).toBe(normalizeOutput("  duration_ms: 0.61\n"));
		expect(normalizeOutput('{"time": 12.5}')).toBe(normalizeOutput('{"time": 3}'));
	});
	it("tells different failures apart", () => {
		expect(fingerprint(1, "2 failed")).not.toBe(fingerprint(1, "1 failed"));
		expect(fingerprint(1, "x")).not.toBe(fingerprint(2, "x"));
	});
	it.each([
		["Tests  3 failed | 10 passed (13)", 3],
		["test result: FAILED. 5 passed; 2 failed; 0 ignored", 2],
		["==== 4 failed, 12 passed in 0.31s ====", 4],
		["src/a.ts(3,1): error TS2304\nFound 7 errors in 2 files.", 7],
		["✖ 12 problems (12 errors, 0 warnings)", 12],
		["  3 passing\n  2 failing", 2],
		["# pass 4\n# fail 1", 1],
		["--- FAIL: TestA\n--- FAIL: TestB\nFAIL", 2],
	])("counts failures in %j", (text, count) => {
		expect(parseFailureCount(text)).toBe(count);
	});
	it("returns undefined when no count is recognizable", () => {
		expect(parseFailureCount("Segmentation fault")).toBeUndefined();
	});
});
