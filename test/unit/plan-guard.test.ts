/** Unit tests: what plan iterations may write. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planWriteBlock } from "../../extensions/loop/plan-guard.ts";

function project(state: object | undefined): string {
	const dir = mkdtempSync(join(tmpdir(), "pi-loop-guard-"));
	mkdirSync(join(dir, ".pi", "loop"), { recursive: true });
	mkdirSync(join(dir, "specs"));
	writeFileSync(join(dir, "specs", "old.md"), "# old");
	if (state) writeFileSync(join(dir, ".pi", "loop", "state.json"), JSON.stringify(state));
	return dir;
}

const planRun = {
	status: "running",
	preset: "plan",
	pid: process.pid,
	work: { file: "IMPLEMENTATION_PLAN.md", specsDir: "specs" },
};

describe("planWriteBlock", () => {
	it("allows the plan file and new spec files only", () => {
		const dir = project(planRun);
		expect(planWriteBlock(dir, "write", "IMPLEMENTATION_PLAN.md")).toBeUndefined();
		expect(planWriteBlock(dir, "edit", join(dir, "IMPLEMENTATION_PLAN.md"))).toBeUndefined();
		expect(planWriteBlock(dir, "write", "specs/new.md")).toBeUndefined();
		expect(planWriteBlock(dir, "write", "specs/old.md")?.reason).toContain("specs/old.md was not changed");
		expect(planWriteBlock(dir, "edit", "specs/new.md")).toMatchObject({ block: true });
		expect(planWriteBlock(dir, "write", "src/app.ts")).toMatchObject({ block: true });
		expect(planWriteBlock(dir, "write", "../escape.md")).toMatchObject({ block: true });
		expect(planWriteBlock(dir, "read", "src/app.ts")).toBeUndefined();
	});
	it("does nothing outside a running plan loop of this process", () => {
		expect(planWriteBlock(project(undefined), "write", "src/app.ts")).toBeUndefined();
		expect(planWriteBlock(project({ ...planRun, preset: "build" }), "write", "src/app.ts")).toBeUndefined();
		expect(planWriteBlock(project({ ...planRun, status: "ended" }), "write", "src/app.ts")).toBeUndefined();
		expect(planWriteBlock(project({ ...planRun, pid: process.pid + 1 }), "write", "src/app.ts")).toBeUndefined();
	});
});
