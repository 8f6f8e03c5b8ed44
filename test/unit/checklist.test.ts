/** Unit tests: markdown checklists (plan and PRD items). */
import { describe, expect, it } from "vitest";
import {
	duplicateOpenItems,
	findItem,
	firstOpen,
	parseChecklist,
	setBlocked,
	setDone,
} from "../../extensions/loop/checklist.ts";

const PLAN = [
	"# Plan",
	"",
	"- [x] Done thing",
	"- [ ] Login (specs/auth.md)",
	"  * [ ] Nested item",
	"- [ ] Later <!-- loop: blocked: checks failed 2 times -->",
	"Not an item [ ]",
	"",
].join("\n");

describe("checklists", () => {
	it("parses items with state, text and block reasons", () => {
		expect(parseChecklist(PLAN)).toEqual([
			{ line: 2, text: "Done thing", done: true, blocked: undefined },
			{ line: 3, text: "Login (specs/auth.md)", done: false, blocked: undefined },
			{ line: 4, text: "Nested item", done: false, blocked: undefined },
			{ line: 5, text: "Later", done: false, blocked: "checks failed 2 times" },
		]);
	});
	it("finds the first open, unblocked item", () => {
		expect(firstOpen(parseChecklist(PLAN))?.text).toBe("Login (specs/auth.md)");
		expect(firstOpen(parseChecklist("- [x] a\n- [ ] b <!-- loop: blocked: x -->"))).toBeUndefined();
	});
	it("ticks and unticks by text, leaving everything else as it was", () => {
		const ticked = setDone(PLAN, "Login (specs/auth.md)", true);
		expect(ticked.split("\n")[3]).toBe("- [x] Login (specs/auth.md)");
		expect(ticked.replace("- [x] Login", "- [ ] Login")).toBe(PLAN);
		expect(setDone(ticked, "Login (specs/auth.md)", false)).toBe(PLAN);
		expect(setDone(PLAN, "no such item", true)).toBe(PLAN);
	});
	it("keeps CRLF line endings and tells duplicate texts apart by state", () => {
		const crlf = "- [ ] a\r\n- [x] b\r\n";
		expect(parseChecklist(crlf).map((i) => i.text)).toEqual(["a", "b"]);
		expect(setDone(crlf, "a", true)).toBe("- [x] a\r\n- [x] b\r\n");
		expect(setBlocked(crlf, "a", "x")).toBe("- [ ] a <!-- loop: blocked: x -->\r\n- [x] b\r\n");
		const dup = "- [x] same\n- [ ] same\n";
		expect(setDone(dup, "same", true)).toBe("- [x] same\n- [x] same\n");
		expect(duplicateOpenItems(parseChecklist("- [ ] a\n- [ ] a\n- [x] b\n- [ ] b\n"))).toEqual(["a"]);
	});
	it("marks an item blocked with a one-line comment that cannot break the markdown", () => {
		const blocked = setBlocked(PLAN, "Nested item", "tests fail -->\n<script>");
		expect(blocked.split("\n")[4]).toBe("  * [ ] Nested item <!-- loop: blocked: tests fail - <script> -->");
		expect(findItem(blocked, "Nested item")?.blocked).toBe("tests fail - <script>");
		expect(setBlocked(blocked, "Nested item", "again").split("\n")[4]).toBe(
			"  * [ ] Nested item <!-- loop: blocked: again -->",
		);
	});
});
