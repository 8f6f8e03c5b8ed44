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
	it("completes run ids for report", () => {
		expect(completeLoopArgs("report 2026", () => ["2026-a", "2025-b"])?.map((c) => c.value)).toEqual(["report 2026-a"]);
	});
});
