/**
 * The test-only scripted model, called the way pi calls a provider: global
 * steps by the log's line count, routes by the first user message, delays
 * (aborted answers while waiting), concurrent requests in one tick, and the
 * times log that requestTimes(fx) joins.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AssistantMessage, Context, Model } from "@mariozechner/pi-ai";
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Fixture, requests, requestTimes } from "../support/harness.ts";
import scriptedModel, { type Script } from "../support/scripted-model.ts";

type Stream = (
	model: Model<string>,
	context: Context,
	options?: { signal?: AbortSignal },
) => { result(): Promise<AssistantMessage> };

let dir: string;
let fx: Fixture;
const saved = { script: process.env.LOOP_FAUX_SCRIPT, log: process.env.LOOP_FAUX_LOG };

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), "pi-loop-faux-"));
	process.env.LOOP_FAUX_SCRIPT = join(dir, "script.json");
	process.env.LOOP_FAUX_LOG = join(dir, "requests.jsonl");
	fx = { logPath: process.env.LOOP_FAUX_LOG, scriptPath: process.env.LOOP_FAUX_SCRIPT } as Fixture;
});

afterEach(() => {
	process.env.LOOP_FAUX_SCRIPT = saved.script;
	process.env.LOOP_FAUX_LOG = saved.log;
	rmSync(dir, { recursive: true, force: true });
});

/** A fresh extension instance (as pi builds one per session) on this script; returns a request function. */
function model(script: Script) {
	writeFileSync(fx.scriptPath, JSON.stringify(script));
	let config: { api: string; streamSimple: Stream } | undefined;
	const pi = {
		registerProvider: (name: string, c: { api: string; streamSimple: Stream }) => {
			if (name === "faux") config = c;
		},
		on: () => {},
	} as unknown as ExtensionAPI;
	scriptedModel(pi);
	if (!config) throw new Error("no faux provider registered");
	const { api, streamSimple } = config;
	const target = { id: "faux-1", api, provider: "faux" } as Model<string>;
	return async (prompt: string, signal?: AbortSignal) => {
		const context: Context = { messages: [{ role: "user", content: prompt, timestamp: Date.now() }] };
		const answer = await streamSimple(target, context, { signal }).result();
		return answer.stopReason === "stop"
			? answer.content.map((b) => (b.type === "text" ? b.text : "")).join("")
			: answer;
	};
}

describe("scripted model", () => {
	it("serves the global steps in log order, then the fallback, across instances", async () => {
		const ask = model({ steps: [{ text: "one" }, { text: "two" }], fallback: { text: "more" } });
		expect(await ask("a")).toBe("one");
		expect(await model({ steps: [{ text: "one" }, { text: "two" }] })("b")).toBe("two");
		expect(await ask("c")).toBe("more");
		expect(requests(fx).map((r) => [r.call, r.route, r.messages[0].text])).toEqual([
			[0, undefined, "a"],
			[1, undefined, "b"],
			[2, undefined, "c"],
		]);
	});

	it("serves a route by the first user message, counting only that route's earlier requests", async () => {
		const script: Script = {
			steps: [{ text: "g0" }, { text: "g1" }],
			routes: [
				{ match: "agent A", steps: [{ text: "a0" }, { text: "a1" }], fallback: { text: "a-more" } },
				{ match: "agent", steps: [{ text: "any0" }] },
			],
		};
		const ask = model(script);
		expect(await ask("I am agent A")).toBe("a0");
		expect(await ask("hello")).toBe("g0");
		expect(await ask("agent B here")).toBe("any0");
		expect(await model(script)("agent A again")).toBe("a1");
		expect(await ask("agent A")).toBe("a-more");
		expect(await ask("hi")).toBe("g1");
		const exhausted = await ask("agent C");
		expect(exhausted).toMatchObject({ stopReason: "error", errorMessage: "scripted model: script exhausted" });
		expect(requests(fx).map((r) => r.route)).toEqual([
			"agent A",
			undefined,
			"agent",
			"agent A",
			"agent A",
			undefined,
			"agent",
		]);
	});

	it("answers concurrent requests after their delays, overlapping, each from its own route", async () => {
		const ask = model({
			steps: [],
			delayMs: 300,
			routes: ["p0", "p1", "p2"].map((match) => ({ match, steps: [{ text: `${match} done` }] })),
		});
		const start = Date.now();
		const answers = await Promise.all(["p0", "p1", "p2"].map((p) => ask(`par ${p}`)));
		expect(answers).toEqual(["p0 done", "p1 done", "p2 done"]);
		expect(Date.now() - start).toBeLessThan(900);
		const times = requestTimes(fx);
		expect(times.map((t) => t.route).sort()).toEqual(["p0", "p1", "p2"]);
		for (const t of times) expect((t.endedAt as number) - t.startedAt).toBeGreaterThanOrEqual(290);
		expect(Math.max(...times.map((t) => t.startedAt))).toBeLessThan(Math.min(...times.map((t) => t.endedAt as number)));
	});

	it("lets a step's own delay override the script's, and an abort end the wait", async () => {
		const ask = model({ steps: [{ text: "quick", delayMs: 0 }, { text: "slow" }], delayMs: 5_000 });
		expect(await ask("first")).toBe("quick");
		const controller = new AbortController();
		const pending = ask("second", controller.signal);
		setTimeout(() => controller.abort(), 50);
		expect(await pending).toMatchObject({ stopReason: "aborted" });
		const [quick, slow] = requestTimes(fx);
		expect((slow.endedAt as number) - slow.startedAt).toBeLessThan(2_000);
		expect(quick.endedAt).toBeDefined();
	});
});
