/** Unit tests: running checks, timeouts that kill the whole process tree, aborts. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCheck } from "../../extensions/core/check-runner.ts";
import { isProcessAlive } from "../../extensions/core/process-liveness.ts";

const dir = () => mkdtempSync(join(tmpdir(), "pi-loop-check-"));

async function until(predicate: () => boolean): Promise<void> {
	for (let i = 0; i < 100 && !predicate(); i++) await new Promise((r) => setTimeout(r, 20));
}

describe("runCheck", () => {
	it("captures combined output and the exit code", async () => {
		const run = await runCheck("echo out; echo err >&2; exit 3", dir(), 10_000);
		expect(run).toMatchObject({ exitCode: 3, timedOut: false, aborted: false });
		expect(run.output).toContain("out");
		expect(run.output).toContain("err");
	});
	it("kills the whole process tree on timeout", async () => {
		const cwd = dir();
		const run = await runCheck("sleep 30 & echo $! > grandchild.pid; wait", cwd, 300);
		expect(run.timedOut).toBe(true);
		expect(run.exitCode).not.toBe(0);
		expect(run.output).toContain("timed out after 300 ms");
		expect(run.durationMs).toBeLessThan(5000);
		const pid = Number(readFileSync(join(cwd, "grandchild.pid"), "utf8"));
		await until(() => !isProcessAlive(pid));
		expect(isProcessAlive(pid)).toBe(false);
	});
	it("stops on abort", async () => {
		const controller = new AbortController();
		const pending = runCheck("sleep 30", dir(), 60_000, controller.signal);
		setTimeout(() => controller.abort(), 100);
		const run = await pending;
		expect(run.aborted).toBe(true);
		expect(run.durationMs).toBeLessThan(5000);
	});
	it("does not wait for background processes that keep the pipes open", async () => {
		const cwd = dir();
		const run = await runCheck("(sleep 30 &) ; echo done", cwd, 20_000);
		expect(run.exitCode).toBe(0);
		expect(run.durationMs).toBeLessThan(5000);
	});
	it("reports a check that cannot start", async () => {
		const run = await runCheck("true", join(dir(), "no-such-dir"), 5000);
		expect(run.exitCode).toBe(127);
		expect(run.output).toMatch(/could not start check: .*ENOENT/);
	});
});
