/** Unit tests: ANSI stripping, output tails, noise normalization. */
import { describe, expect, it } from "vitest";
import { normalizeOutput, outputTail, stripAnsi } from "../../extensions/core/check-output.ts";

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
	it("removes run-to-run noise so equal failures normalize alike", () => {
		const a =
			"\u001b[32m✓\u001b[0m parse 12ms\nFAIL at 2026-11-21T08:00:01.123Z pid 4242 buffer 0x7ffde4a1\n" +
			"Duration 1.52s\n 1 failed";
		const b = "✓ parse 340ms\nFAIL at 2026-11-22T09:13:44.999Z pid 99 buffer 0x55aa00ff\nDuration 0.9s\n 1 failed";
		expect(normalizeOutput(a)).toBe(normalizeOutput(b));
		expect(normalizeOutput("2 failed")).not.toBe(normalizeOutput("1 failed"));
	});
	it("ignores timing fields of TAP and JSON reporters", () => {
		expect(normalizeOutput("  duration_ms: 3.974469\n")).toBe(normalizeOutput("  duration_ms: 0.61\n"));
		expect(normalizeOutput('{"time": 12.5}')).toBe(normalizeOutput('{"time": 3}'));
	});
	it.each([
		["node --test's closing line", "# duration_ms 146.704599", "# duration_ms 153.02"],
		["node --test's spec closing line", "ℹ duration_ms 146.704599", "ℹ duration_ms 9"],
		["jest's estimate", "Time:        0.512 s", "Time:        0.498 s, estimated 1 s"],
		[
			"a Rust thread id",
			"thread 'tests::sum' (19274) panicked at src/lib.rs:3:5:",
			"thread 'tests::sum' (19281) panicked at src/lib.rs:3:5:",
		],
	])("ignores %s", (_what, a, b) => {
		expect(normalizeOutput(a)).toBe(normalizeOutput(b));
	});
});
