/** Unit tests: the loop → hydrator hand-over, in memory, for one exact prompt, taken once, nothing on disk. */
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { requestHydration, takeHydrationRequest } from "../../extensions/hydrate/hydration-request.ts";

describe("hydration request", () => {
	it("is taken once, for exactly its prompt and project, and writes nothing into the project", () => {
		const cwd = mkdtempSync(join(tmpdir(), "pi-loop-hydrate-req-"));
		requestHydration(cwd, "iteration 1 prompt", "fix the parser", "1 failed");
		expect(takeHydrationRequest(cwd, "another prompt")).toBeUndefined();
		expect(takeHydrationRequest(join(cwd, "other"), "iteration 1 prompt")).toBeUndefined();
		expect(takeHydrationRequest(cwd, "iteration 1 prompt")).toEqual({ task: "fix the parser", failures: "1 failed" });
		expect(takeHydrationRequest(cwd, "iteration 1 prompt")).toBeUndefined();
		expect(readdirSync(cwd)).toEqual([]);
	});
	it("keeps one request per project: a newer one replaces an unsent older one", () => {
		const cwd = mkdtempSync(join(tmpdir(), "pi-loop-hydrate-req-"));
		requestHydration(cwd, "old", "old task");
		requestHydration(cwd, "new", "new task");
		expect(takeHydrationRequest(cwd, "old")).toBeUndefined();
		expect(takeHydrationRequest(cwd, "new")).toEqual({ task: "new task", failures: undefined });
	});
});
