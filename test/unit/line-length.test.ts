/**
 * Unit tests: scripts/check-line-length.mjs, the "lines stay under 120
 * columns" check that npm run lint and npm test run.
 */
import { describe, expect, it } from "vitest";
import { formatLongLine, isChecked, longLines } from "../../scripts/check-line-length.mjs";
import { tempTree } from "../support/temp-tree.ts";

describe("check-line-length", () => {
	it("reports the line over 120 characters, not the one at 120, with its path, line and columns", () => {
		const long = `\tconst text = "${"x".repeat(111)}";`; // 1 + 14 + 111 + 2 = 128 characters
		const short = `// ${"·".repeat(117)}`; // 120 characters (237 bytes in UTF-8)
		const dir = tempTree("pi-loop-line-length-", { "extensions/a.ts": `${short}\n${long}\n` });
		const found = longLines(dir, ["extensions/a.ts"]);
		expect(found).toEqual([{ path: "extensions/a.ts", line: 2, columns: 128 }]);
		expect(found.map(formatLongLine)).toEqual(["extensions/a.ts:2: 128 columns"]);
		expect(longLines(dir, ["extensions/a.ts"], 128)).toEqual([]);
	});
	it("reads the project's own code, not fixtures, sample projects or other files", () => {
		expect(
			[
				"extensions/loop/view.ts",
				"blueprints/lint-fixer.ts",
				"test/support/sandbox.d.mts",
				"bench/run.mjs",
				"demo/run.js",
			].map(isChecked),
		).toEqual([true, true, true, true, true]);
		expect(
			["test/fixtures/a.ts", "demo/sample/slugify.js", "README.md", "biome.json", "skills/a.ts"].map(isChecked),
		).toEqual([false, false, false, false, false]);
	});
});
