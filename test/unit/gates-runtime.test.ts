/**
 * The gate runtime's on-done chain with a fake session: failures reported,
 * never left to crash pi; failed agent runs keep their changes for the next
 * one; answers that no longer belong to the session or prompt are not sent.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExtensionContext } from "@mariozechner/pi-coding-agent";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type GateIO, GateRuntime } from "../../extensions/gates/runtime.ts";

interface Fake {
	ctx: ExtensionContext;
	io: GateIO;
	notices: string[];
	sent: string[];
}

function fakeSession(send: (text: string) => void = () => {}): Fake {
	const notices: string[] = [];
	const sent: string[] = [];
	const ui = { notify: (text: string) => notices.push(text), setStatus: () => {} };
	const ctx = { hasUI: true, ui, isIdle: () => true } as unknown as ExtensionContext;
	const io: GateIO = {
		sendUserMessage: (text) => {
			send(text);
			sent.push(text);
		},
		steer: () => {},
	};
	return { ctx, io, notices, sent };
}

let project: string;

function runtimeWith(onDone: string, rounds = 2): GateRuntime {
	mkdirSync(join(project, ".pi"), { recursive: true });
	writeFileSync(
		join(project, ".pi", "loop.json"),
		JSON.stringify({ gates: { rounds, onWrite: [], onDone: [{ name: "tests", command: onDone }] } }),
	);
	return new GateRuntime(project);
}

async function write(r: GateRuntime, id: string, path: string): Promise<void> {
	expect(r.beforeWrite(id, path)).toBeUndefined();
	await r.afterWrite(id, path, true);
}

/** pi takes the sent fix round as input and runs it to `stopReason`. */
function runFixRound(r: GateRuntime, s: Fake, stopReason: string): void {
	r.inputSeen(s.sent.at(-1) as string, "extension");
	r.runStarted();
	r.agentEnded(stopReason);
}

/** A prompt that wrote a file, whose failing on-done check has sent fix round 1. */
async function afterFirstFixRound(onDone: string, rounds = 2): Promise<{ r: GateRuntime; s: Fake }> {
	const r = runtimeWith(onDone, rounds);
	const s = await promptThatWrote(r);
	await vi.waitFor(() => expect(s.sent).toHaveLength(1));
	return { r, s };
}

/** A session bound to `r` in which a prompt wrote a.ts and ended. */
async function promptThatWrote(r: GateRuntime): Promise<Fake> {
	const s = fakeSession();
	r.bind(s.ctx, s.io, true);
	await write(r, "1", "a.ts");
	r.agentEnded("stop");
	return s;
}

beforeEach(() => {
	const root = mkdtempSync(join(tmpdir(), "pi-loop-gates-runtime-"));
	project = join(root, "project");
	mkdirSync(project);
	vi.stubEnv("PI_CODING_AGENT_DIR", join(root, "agent"));
});
afterEach(() => {
	vi.unstubAllEnvs();
});

describe("GateRuntime on done", () => {
	it("a stale session that cannot take the fix round is reported, and later prompts are still gated", async () => {
		const r = runtimeWith("exit 1");
		const stale = fakeSession(() => {
			throw new Error("This extension ctx is stale");
		});
		r.bind(stale.ctx, stale.io, true);
		await write(r, "1", "a.ts");
		r.agentEnded("stop");
		await r.settled();
		expect(stale.notices.at(-1)).toBe("gates: could not start the fix round: This extension ctx is stale");
		const next = fakeSession();
		r.bind(next.ctx, next.io, true);
		r.inputSeen("another prompt");
		await write(r, "2", "b.ts");
		r.agentEnded("stop");
		await vi.waitFor(() => expect(next.sent).toHaveLength(1));
		expect(next.sent[0]).toContain("fix round 1 of 2");
	});

	it("an agent run that ends in an error keeps its changes for the next run that completes (pi's retry)", async () => {
		const r = runtimeWith("exit 1", 0);
		const s = fakeSession();
		r.bind(s.ctx, s.io, true);
		await write(r, "1", "a.ts");
		r.agentEnded("error");
		await r.settled();
		expect(s.notices).toEqual([]);
		r.agentEnded("stop");
		await r.settled();
		expect(s.notices.at(-1)).toBe(
			"gates: still failing (fix rounds are off: gates.rounds = 0): tests. " +
				"Stopped; the failures are yours to look at (/gates for details).",
		);
	});

	it("results for a session that was replaced meanwhile are not sent into the new one", async () => {
		const r = runtimeWith("sleep 0.3; exit 1");
		const first = await promptThatWrote(r);
		const second = fakeSession();
		r.bind(second.ctx, second.io, true);
		await r.settled();
		expect([...first.sent, ...second.sent]).toEqual([]);
		// The new session stops the old check rather than waiting behind it.
		expect(second.notices.at(-1)).toBe("gates: on-done check stopped (the session changed)");
	});

	it("a newer prompt of the user's wins over a fix round for the older one", async () => {
		const r = runtimeWith("sleep 0.3; exit 1");
		const s = await promptThatWrote(r);
		r.inputSeen("do something else");
		await r.settled();
		expect(s.sent).toEqual([]);
		expect(s.notices.at(-1)).toBe("gates: ✗ tests — not sent to the agent: a newer prompt of yours came first");
	});

	it("a gate whose command is missing is reported, not sent to the agent as something to fix", async () => {
		const r = runtimeWith("definitely-not-a-command-xyz");
		const s = await promptThatWrote(r);
		await r.settled();
		expect(s.sent).toEqual([]);
		expect(s.notices[0]).toMatch(/^gates: could not run tests \(command not found or not executable \(exit 127\)/);
	});

	const supersededCheck =
		"print mode waits for a fix round sent for a later prompt even when an earlier prompt's check was superseded";
	it(supersededCheck, async () => {
		const r = runtimeWith("sleep 0.2; exit 1", 1);
		const s = await promptThatWrote(r); // prompt a
		r.inputSeen("prompt b");
		await write(r, "2", "b.ts");
		r.agentEnded("stop"); // prompt b ends while a's check still runs
		await vi.waitFor(() => expect(s.sent).toHaveLength(1), { timeout: 5000 });
		const waiting = r.settled();
		const early = await Promise.race([
			waiting.then(() => "settled"),
			new Promise((res) => setTimeout(() => res("pending"), 300)),
		]);
		expect(early).toBe("pending");
		runFixRound(r, s, "stop"); // the fix round changed nothing: still checked
		await waiting;
		expect(s.notices.at(-1)).toBe(
			"gates: still failing after 1 fix round: tests. Stopped; the failures are yours to look at (/gates for details).",
		);
		expect(s.notices).toContain("gates: ✗ tests — not sent to the agent: a newer prompt of yours came first");
	});

	it("an aborted fix round ends the round; the next prompt without writes runs no gates", async () => {
		const { r, s } = await afterFirstFixRound("exit 1");
		runFixRound(r, s, "aborted");
		expect(s.notices.at(-1)).toBe("gates: fix round aborted; the gates were not run again");
		r.inputSeen("what does this repo do?");
		r.agentEnded("stop");
		await r.settled();
		expect(s.sent).toHaveLength(1);
	});

	it("a user prompt after a fix round that errored takes over: its end is not taken for the fix round's", async () => {
		const { r, s } = await afterFirstFixRound("exit 1");
		runFixRound(r, s, "error"); // not retried
		r.inputSeen("what does this repo do?");
		r.runStarted();
		r.agentEnded("stop"); // wrote nothing
		await r.settled();
		expect(s.sent).toHaveLength(1);
	});

	it("a run between rounds that wrote files does not start or stop rounds (at most `rounds` fix rounds)", async () => {
		const { r, s } = await afterFirstFixRound("exit 1", 1);
		// Another extension's turn (no input) writes while fix round 1 is outstanding.
		await write(r, "2", "c.ts");
		r.agentEnded("stop");
		await vi.waitFor(() => expect(s.notices.at(-1)).toBe("gates: ✗ tests — fix round 1 is under way"));
		runFixRound(r, s, "stop");
		await r.settled();
		expect(s.sent).toHaveLength(1);
		expect(s.notices.at(-1)).toBe(
			"gates: still failing after 1 fix round: tests. Stopped; the failures are yours to look at (/gates for details).",
		);
	});
});
