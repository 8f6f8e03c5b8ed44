/** Unit tests: how diagnostics and gate findings are shown after a write (diagnostics.ts). */
import { describe, expect, it } from "vitest";
import {
	type Diagnostic,
	type FileFinding,
	formatDiagnostic,
	MAX_LINES,
	newSince,
	renderFindings,
	sortDiagnostics,
	tailLines,
} from "../../extensions/gates/diagnostics.ts";

const d = (
	file: string,
	line: number,
	severity: Diagnostic["severity"],
	message: string,
	code?: string,
	col = 1,
): Diagnostic => ({
	file,
	line,
	col,
	severity,
	message,
	...(code === undefined ? {} : { code }),
});
const none = () => undefined;
const diagnostics = (items: Diagnostic[], gate = "typescript"): FileFinding => ({ gate, status: "diagnostics", items });

describe("sortDiagnostics / formatDiagnostic", () => {
	it("puts errors before warnings, then orders by file, line and column", () => {
		const items = [
			d("b.ts", 1, "warning", "w1"),
			d("b.ts", 9, "error", "e3"),
			d("a.ts", 5, "error", "e2", undefined, 7),
			d("a.ts", 5, "error", "e1", undefined, 2),
			d("a.ts", 2, "warning", "w0"),
		];
		expect(sortDiagnostics(items).map((x) => x.message)).toEqual(["e1", "e2", "e3", "w0", "w1"]);
		expect(items[0]?.message).toBe("w1"); // the input is not reordered
	});
	it("formats file:line:col severity code: message, collapsing a multi-line message", () => {
		expect(formatDiagnostic(d("src/a.ts", 3, "error", "Type 'x' is wrong.\n  Expected 'y'.\n", "TS2322", 14))).toBe(
			"src/a.ts:3:14 error TS2322: Type 'x' is wrong. Expected 'y'.",
		);
		expect(formatDiagnostic(d("a.ts", 1, "warning", "unused"))).toBe("a.ts:1:1 warning: unused");
	});
});

describe("newSince", () => {
	const a = d("a.ts", 1, "error", "A", "TS1");
	const b = d("a.ts", 2, "error", "B", "TS2");
	it("everything is fresh the first time", () => {
		expect(newSince(undefined, [a, b])).toEqual({ fresh: [a, b], unchanged: 0 });
	});
	it("counts repeats: a diagnostic seen once covers one of its repeats, not all", () => {
		expect(newSince([a], [a, a, b])).toEqual({ fresh: [a, b], unchanged: 1 });
		expect(newSince([a, a], [a, a])).toEqual({ fresh: [], unchanged: 2 });
		expect(newSince([a, a], [a])).toEqual({ fresh: [], unchanged: 1 });
	});
	it("a diagnostic that moved to another line is not new; another severity or code is", () => {
		expect(newSince([a], [{ ...a, line: 40, col: 3 }]).unchanged).toBe(1);
		expect(newSince([a], [{ ...a, severity: "warning" }]).fresh).toHaveLength(1);
		expect(newSince([a], [{ ...a, code: "TS9" }]).fresh).toHaveLength(1);
	});
});

describe("tailLines", () => {
	it("keeps the last non-empty lines and counts the rest", () => {
		expect(tailLines("a\n\nb\r\nc\n", 5)).toEqual(["a", "b", "c"]);
		expect(tailLines("1\n2\n3\n4\n5", 2)).toEqual(["… 3 earlier lines", "4", "5"]);
	});
});

describe("renderFindings", () => {
	it("is empty without findings, or with only unchanged formatting", () => {
		expect(renderFindings([], none)).toBe("");
		expect(renderFindings([{ gate: "prettier", status: "unchanged" }], none)).toBe("");
	});
	it("says clean for a gate with no diagnostics", () => {
		expect(renderFindings([diagnostics([])], none)).toBe("[gates]\ntypescript: clean");
	});
	it("says a formatter rewrote the file, and why a gate could not run", () => {
		const text = renderFindings(
			[
				{ gate: "prettier", status: "formatted" },
				{ gate: "typescript", status: "unavailable", reason: "server crashed" },
			],
			none,
		);
		expect(text).toBe(
			[
				"[gates]",
				"prettier: formatted on disk (re-read the file before editing it again)",
				"typescript: diagnostics unavailable (server crashed)",
			].join("\n"),
		);
	});
	it("lists new diagnostics sorted under a count", () => {
		const text = renderFindings(
			[
				diagnostics([
					d("a.ts", 9, "warning", "unused", "TS6133"),
					d("a.ts", 2, "error", "bad\ntype", "TS2322"),
					d("a.ts", 1, "error", "x"),
				]),
			],
			none,
		);
		expect(text.split("\n")).toEqual([
			"[gates]",
			"typescript: 2 errors, 1 warning new",
			"  a.ts:1:1 error: x",
			"  a.ts:2:1 error TS2322: bad type",
			"  a.ts:9:1 warning TS6133: unused",
		]);
	});
	it("counts what is unchanged since the file's last check instead of repeating it", () => {
		const old = d("a.ts", 1, "error", "old", "TS1");
		const fresh = d("a.ts", 5, "warning", "fresh", "TS2");
		const previous = (gate: string) => (gate === "typescript" ? [old] : undefined);
		expect(renderFindings([diagnostics([old, fresh])], previous).split("\n")).toEqual([
			"[gates]",
			"typescript: 1 warning new; 1 unchanged since the last check",
			"  a.ts:5:1 warning TS2: fresh",
		]);
		expect(renderFindings([diagnostics([old, old])], () => [old, old])).toBe(
			"[gates]\ntypescript: 2 unchanged since the last check",
		);
		// the previous list is asked for by gate: another gate's history does not hide these
		expect(renderFindings([diagnostics([old], "eslint")], previous)).toBe(
			"[gates]\neslint: 1 error new\n  a.ts:1:1 error TS1: old",
		);
	});
	it(`lists at most ${MAX_LINES} lines, then +N more`, () => {
		const items = Array.from({ length: MAX_LINES + 5 }, (_, i) => d("a.ts", i + 1, "error", `e${i + 1}`));
		const lines = renderFindings([diagnostics(items)], none).split("\n");
		expect(lines).toHaveLength(2 + MAX_LINES + 1);
		expect(lines[1]).toBe(`typescript: ${MAX_LINES + 5} errors new`);
		expect(lines[2 + MAX_LINES - 1]).toBe(`  a.ts:${MAX_LINES}:1 error: e${MAX_LINES}`);
		expect(lines.at(-1)).toBe("  +5 more");
	});
	it("the cap is shared by every gate's lines", () => {
		const ts = diagnostics(Array.from({ length: 15 }, (_, i) => d("a.ts", i + 1, "error", "t")));
		const lint = diagnostics(
			Array.from({ length: 10 }, (_, i) => d("a.ts", i + 1, "warning", "l")),
			"eslint",
		);
		const lines = renderFindings([ts, lint], none).split("\n");
		expect(lines.slice(0, 3)).toEqual(["[gates]", "typescript: 15 errors new", "eslint: 10 warnings new"]);
		expect(lines.at(-1)).toBe("  +5 more");
	});
	it("shows a failed command's exit code and the tail of its output", () => {
		const text = renderFindings(
			[
				{
					gate: "prettier",
					status: "failed",
					exitCode: 2,
					output: "\n[error] a.ts: SyntaxError\n[error] Unexpected token (3:1)\n\n",
				},
			],
			none,
		);
		expect(text.split("\n")).toEqual([
			"[gates]",
			"prettier: failed (exit 2)",
			"  [error] a.ts: SyntaxError",
			"  [error] Unexpected token (3:1)",
		]);
	});
	it("a long failed output is cut to its tail, with how many earlier lines were left out", () => {
		const output = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join("\n");
		const lines = renderFindings([{ gate: "fmt", status: "failed", exitCode: 1, output }], none).split("\n");
		expect(lines).toContain("  … 11 earlier lines");
		expect(lines).not.toContain("  line 11");
		expect(lines).toContain("  line 12");
	});
	it("a long failed output keeps its last line within the cap", () => {
		const output = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join("\n");
		const lines = renderFindings([{ gate: "fmt", status: "failed", exitCode: 1, output }], none).split("\n");
		expect(lines.at(-1)).toBe("  line 30");
	});
});
