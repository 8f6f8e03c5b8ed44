/**
 * End-to-end: interactive pi in a real terminal (tmux) — the loop's widget
 * and footer while it runs, the summary at the end, and /loop stop typed
 * while a check runs (when pi itself would drop the input). Skipped where
 * tmux is not installed.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BUGGY_LIB, events, type Fixture, LIB_FIXED, makeFixture, setScript, waitFor } from "../support/harness.ts";
import { hasTmux, screen, startInteractive, stopInteractive, tmux } from "../support/tmux.ts";

/** Waits for pi's editor, then types a /loop command; types it again if pi was not ready for the first one. */
async function startLoop(fx: Fixture, name: string, command: string): Promise<void> {
	await waitFor(() => screen(name).includes("faux-1"), 20_000, "pi to start");
	for (let attempt = 0; attempt < 3 && events(fx).length === 0; attempt++) {
		tmux("send-keys", "-t", name, "C-u");
		tmux("send-keys", "-t", name, command, "Enter");
		await waitFor(() => events(fx).length > 0, 8_000, "run_start").catch(() => undefined);
	}
	expect(events(fx)[0]).toMatchObject({ type: "run_start" });
}

afterEach(stopInteractive);

describe.skipIf(!hasTmux)("/loop in interactive pi (tmux)", () => {
	it("shows the widget and footer while it runs and the summary at the end", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [{ bash: "sleep 2" }, { write: { path: "lib.js", content: LIB_FIXED } }, { text: "Fixed both." }],
		});
		const name = startInteractive(fx);
		await startLoop(fx, name, '/loop until "node test.js" --max 3');
		await waitFor(() => /loop until · 1\/3 · failing 2/.test(screen(name)), 20_000, "the widget");
		expect(screen(name)).toMatch(/⟳ loop 1\/3 failing 2/);
		await waitFor(() => screen(name).includes("loop until ended: passed"), 30_000, "the summary");
		const final = screen(name);
		expect(final).toContain("iteration 1/3 done · 1 file changed");
		expect(final).not.toMatch(/loop until · \d\/3 · /); // widget cleared
		expect(events(fx).at(-1)).toMatchObject({ reason: "passed" });
	});

	it("takes /loop stop typed while a check runs", async () => {
		const fx = makeFixture({ files: { ...BUGGY_LIB } });
		setScript(fx, { steps: [], fallback: { text: "nothing this time" } });
		const name = startInteractive(fx);
		await startLoop(fx, name, '/loop until "sleep 3; node test.js" --max 5 --stagnation 9');
		await waitFor(() => events(fx).some((e) => e.type === "iteration_end"), 30_000, "the first iteration");
		// The second check is running now: no agent is working, so pi itself would drop this input.
		// Typed as one chunk ending in Enter, as fast typing or a paste arrives.
		tmux("send-keys", "-t", name, "-l", "/loop stop\r");
		await waitFor(() => events(fx).some((e) => e.type === "run_end"), 30_000, "the loop to end");
		expect(events(fx).at(-1)).toMatchObject({ reason: "stopped", iterations: 1 });
		await waitFor(() => screen(name).includes("stop requested"), 10_000, "the notice");
	});

	it("runs a blueprint: the widget names it and its running spawns; Esc aborts it", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ bash: "sleep 2" }, { text: "slept" }, { hang: true }] });
		mkdirSync(join(fx.project, ".pi", "blueprints"), { recursive: true });
		writeFileSync(
			join(fx.project, ".pi", "blueprints", "two.ts"),
			'await factory.spawn({ agent: "sleeper", prompt: "sleep" });\n' +
				'await factory.spawn({ agent: "hanger", prompt: "hang" });\n',
		);
		const name = startInteractive(fx);
		await startLoop(fx, name, "/loop run two");
		await waitFor(() => /blueprint .*two\.ts/.test(screen(name)), 20_000, "the widget");
		await waitFor(() => screen(name).includes("⟳ sleeper"), 20_000, "the running spawn");
		await waitFor(() => events(fx).some((e) => e.type === "spawn_start" && e.agent === "hanger"), 20_000, "spawn 2");
		tmux("send-keys", "-t", name, "Escape");
		await waitFor(() => events(fx).some((e) => e.type === "run_end"), 20_000, "the run to end");
		expect(events(fx).at(-1)).toMatchObject({ type: "run_end", reason: "aborted", iterations: 2 });
		await waitFor(() => screen(name).includes("ended: aborted"), 10_000, "the summary");
	});
});
