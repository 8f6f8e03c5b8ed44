/**
 * End-to-end: `/loop` as a prompt over `pi --mode rpc` — progress through
 * the extension UI protocol, the final summary as a message, and
 * /loop stop and /loop abort sent while the loop runs.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { events, LIB_FIXED, LIB_HALF_FIXED, makeFixture, requests, setScript, waitFor } from "../support/harness.ts";
import { RpcClient } from "../support/rpc-client.ts";

const UNTIL = '/loop until "node test.js"';
let client: RpcClient | undefined;

afterEach(async () => {
	await client?.close();
	client = undefined;
});

describe("/loop over RPC", () => {
	it("reports progress through status, widget and notify, and ends with a summary message", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [
				{ write: { path: "lib.js", content: LIB_HALF_FIXED } },
				{ text: "fixed add" },
				{ write: { path: "lib.js", content: LIB_FIXED } },
				{ text: "fixed mul" },
			],
		});
		client = new RpcClient(fx);
		const id = client.prompt(`${UNTIL} --max 4`);
		const response = await client.response(id);
		expect(response.success).toBe(true);

		const widgets = client.uiRequests("setWidget").filter((r) => r.widgetKey === "loop" && r.widgetLines);
		expect(widgets.length).toBeGreaterThan(0);
		expect(widgets.map((w) => w.widgetLines[0]).join("\n")).toMatch(
			/loop until · 1\/4 · failing 2 · [\d.]+s · \$0\.00/,
		);
		expect(widgets.map((w) => w.widgetLines[0]).join("\n")).toMatch(/loop until · 2\/4 · failing 2→1/);
		expect(
			client.uiRequests("setStatus").some((r) => r.statusKey === "loop" && /⟳ loop \d\/4/.test(r.statusText ?? "")),
		).toBe(true);
		// The widget and status are cleared at the end, and the user is notified.
		expect(client.uiRequests("setWidget").at(-1)).toMatchObject({ widgetKey: "loop" });
		expect(client.uiRequests("setWidget").at(-1)?.widgetLines).toBeUndefined();
		expect(client.uiRequests("notify").map((n) => n.message)).toContain(
			"✓ loop until ended: passed — the check passes",
		);

		const messages = client.loopMessages();
		expect(messages.filter((m) => /iteration \d\/4 done/.test(m))).toHaveLength(2);
		expect(messages.at(-1)).toContain("✓ loop until ended: passed");
		expect(events(fx).at(-1)).toMatchObject({ reason: "passed", iterations: 2 });
	});

	it("records the origin session as the parent of every iteration session", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [{ text: "hello, human" }, { write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }],
		});
		client = new RpcClient(fx);
		await client.response(client.prompt("hi"));
		await waitFor(() => client?.records.some((r) => r.type === "agent_end") ?? false, 20_000, "the first answer");
		await client.response(client.prompt(UNTIL));
		const state = JSON.parse(readFileSync(join(fx.project, ".pi", "loop", "state.json"), "utf8"));
		expect(state.originSession).toBeTruthy();
		expect(existsSync(state.originSession)).toBe(true);
		const header = JSON.parse(readFileSync(state.history[0].sessionFile, "utf8").split("\n")[0]);
		expect(header.parentSession).toBe(state.originSession);
		// The iteration's model context holds nothing of the origin conversation.
		expect(JSON.stringify(requests(fx)[1])).not.toContain("hello, human");
	});

	it("/loop stop ends the loop after the current iteration", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ bash: "sleep 1.5" }, { text: "slept" }], fallback: { text: "more work" } });
		client = new RpcClient(fx);
		const id = client.prompt(`${UNTIL} --max 5`);
		await waitFor(() => requests(fx).length >= 1, 20_000, "first model request");
		const stopId = client.prompt("/loop stop");
		expect((await client.response(stopId)).success).toBe(true);
		await client.response(id);
		const last = events(fx).at(-1);
		expect(last).toMatchObject({ type: "run_end", reason: "stopped", iterations: 1 });
		expect(
			client
				.uiRequests("notify")
				.some((n) => /stop requested: run \S+ ends after the current iteration/.test(n.message)),
		).toBe(true);
	});

	it("/loop abort ends the loop now, even mid-iteration", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ hang: true }], fallback: { text: "should not run" } });
		client = new RpcClient(fx);
		const id = client.prompt(`${UNTIL} --max 5`);
		await waitFor(() => requests(fx).length >= 1, 20_000, "first model request");
		const started = Date.now();
		client.prompt("/loop abort");
		await client.response(id);
		expect(Date.now() - started).toBeLessThan(10_000);
		expect(events(fx).at(-1)).toMatchObject({ type: "run_end", reason: "aborted", iterations: 1 });
		expect(requests(fx)).toHaveLength(1);
	});
});
