/** Unit tests: /loop argument completion. */
import { describe, expect, it } from "vitest";
import { completeLoopArgs } from "../../extensions/loop/completions.ts";

const none = () => [];

describe("completeLoopArgs", () => {
	it("completes subcommands", () => {
		expect(completeLoopArgs("", none)?.map((c) => c.label)).toEqual([
			"until",
			"tests",
			"lint",
			"types",
			"plan",
			"build",
			"prd",
			"run",
			"worktrees",
			"issues",
			"issue",
			"status",
			"stop",
			"abort",
			"resume",
			"report",
			"help",
		]);
		expect(completeLoopArgs("st", none)?.map((c) => c.value)).toEqual(["status ", "stop "]);
		expect(completeLoopArgs("zzz", none)).toBeNull();
	});
	it("completes flags of loop-starting subcommands, keeping what was typed", () => {
		const items = completeLoopArgs('until "npm test" --ma', none);
		expect(items?.map((c) => c.value)).toEqual(['until "npm test" --max ', 'until "npm test" --max-failures ']);
		expect(completeLoopArgs("tests --max 3 --", none)?.map((c) => c.label)).not.toContain("--max");
		expect(completeLoopArgs("status --", none)).toBeNull();
		expect(completeLoopArgs("build --no", none)?.map((c) => c.label)).toEqual(["--no-commit"]);
		expect(completeLoopArgs("tests --no", none)).toBeNull();
		expect(completeLoopArgs("tests -- fix --m", none)).toBeNull();
	});
	it("completes blueprint names after run, then the flags blueprint runs take", () => {
		const catalog = () => [{ name: "lint-fixer", summary: "fix lint" }, { name: "mine" }];
		expect(completeLoopArgs("run li", none, catalog)?.map((c) => c.value)).toEqual(["run lint-fixer "]);
		expect(completeLoopArgs("run ", none, catalog)?.map((c) => c.label)).toEqual(["lint-fixer", "mine"]);
		const flags = completeLoopArgs("run mine --", none, catalog)?.map((c) => c.label);
		expect(flags).toEqual(expect.arrayContaining(["--max-spawns", "--max-cost", "--concurrency", "--timeout"]));
		expect(flags).not.toContain("--max");
		expect(completeLoopArgs("tests --max-s", none)).toBeNull();
	});
	it("completes run ids for report", () => {
		expect(completeLoopArgs("report 2026", () => ["2026-a", "2025-b"])?.map((c) => c.value)).toEqual(["report 2026-a"]);
	});
});
