/**
 * The gates of one project in one pi process: the plan, the warm language
 * server, the latest results, the files changed per turn and per prompt,
 * and the on-done fix rounds. Lives process-wide so it survives the session
 * replacements of /loop iterations; the event handlers in index.ts call in.
 */
import { relative, resolve, sep } from "node:path";
import type { ExtensionContext } from "@mariozechner/pi-coding-agent";
import { notify } from "../shared/notify.ts";
import { processWide } from "../shared/process-wide.ts";
import { runningLoopCheck } from "../shared/loop-activity.ts";
import { runCommandGate } from "./command-gate.ts";
import type { Diagnostic } from "./diagnostics.ts";
import { fixRoundMessage, type GateResult, gatesReport, resultKey, statusLine, stopMessage, turnEndMessage } from "./messages.ts";
import { type Gate, type GatePlan, planGates } from "./plan.ts";
import { protectedReason } from "./protect.ts";
import { TypeScriptServer } from "./ts-server.ts";
import { WriteBatcher } from "./write-batch.ts";
import { checkWrites } from "./write-check.ts";

/** How the runtime talks back: a follow-up user message, a steering note, the footer. */
export interface GateIO {
	sendUserMessage: (text: string, deliverAs?: "followUp") => void;
	steer: (text: string) => void;
}

const FIX_START_GRACE_MS = 10_000;

export class GateRuntime {
	private current?: GatePlan;
	off = false;
	private server?: TypeScriptServer;
	readonly results = new Map<string, GateResult>();
	private readonly previous = new Map<string, Diagnostic[]>();
	private readonly batcher = new WriteBatcher<string>((files) => checkWrites({ cwd: this.cwd, gates: this.active("onWrite"), server: () => this.typescript(), previous: this.previous, record: (r) => this.record(r) }, files));
	private changedThisTurn = new Set<string>();
	private changedThisPrompt = new Set<string>();
	readonly written = new Set<string>();
	/** Fix rounds used for the user's current prompt. */
	private round = 0;
	/** The follow-up text of a fix round sent but not yet seen as input. */
	private pendingFix?: string;
	private chain?: { promise: Promise<void>; done: () => void };
	private work: Promise<void> = Promise.resolve();
	private ctx?: ExtensionContext;
	private reportedError?: string;

	constructor(readonly cwd: string) {}

	plan(): GatePlan {
		this.current ??= planGates(this.cwd);
		return this.current;
	}

	/** Re-reads config and detection (session start, /gates). */
	reload(): GatePlan {
		this.current = undefined;
		return this.plan();
	}

	private get on(): boolean {
		const plan = this.plan();
		return plan.enabled && !plan.configError && !this.off;
	}

	private active(kind: Gate["kind"]): Gate[] {
		return this.on ? this.plan().gates.filter((g) => g.kind === kind) : [];
	}

	private typescript(): TypeScriptServer {
		this.server ??= new TypeScriptServer(this.cwd);
		return this.server;
	}

	serverLabel(): string | undefined {
		if (!this.plan().gates.some((g) => g.languageServer)) return undefined;
		const s = this.typescript();
		return `${s.choice.label}; ${s.running ? `running, pid ${s.pid} (started ${s.starts}×)` : "starts on the first write"}`;
	}

	bind(ctx: ExtensionContext): void {
		this.ctx = ctx;
		const error = this.plan().configError;
		if (error && this.reportedError !== error) {
			this.reportedError = error;
			this.say(`gates are off: ${error}`, "error");
		}
		this.showStatus();
	}

	private record(result: GateResult): void {
		this.results.set(resultKey({ kind: result.kind, name: result.gate }), result);
		this.showStatus();
	}

	showStatus(): void {
		const ctx = this.ctx;
		if (!ctx?.hasUI) return;
		try {
			ctx.ui.setStatus("gates", statusLine(this.plan(), this.results, this.off));
		} catch {
			// a stale context after a session switch; the next bind shows it
		}
	}

	report(): string {
		return gatesReport(this.plan(), this.results, this.off, { server: this.serverLabel() });
	}

	/** tool_call of write/edit: the reason it is blocked, or undefined (then it is expected in a batch). */
	beforeWrite(toolCallId: string, path: string): string | undefined {
		const reason = protectedReason(this.cwd, path, this.plan().protectedPaths);
		if (reason === undefined) this.batcher.expect(toolCallId);
		return reason;
	}

	dropWrite(toolCallId: string): void {
		this.batcher.drop(toolCallId);
	}

	/** tool_result of write/edit: the block to append to the result, if any. */
	async afterWrite(toolCallId: string, path: string, ok: boolean): Promise<string | undefined> {
		const abs = resolve(this.cwd, path.startsWith("@") ? path.slice(1) : path);
		if (ok) {
			this.changedThisTurn.add(abs);
			this.changedThisPrompt.add(abs);
			this.written.add(abs);
		}
		const blocks = await this.batcher.arrive(toolCallId, ok && this.active("onWrite").length > 0 ? abs : undefined);
		return blocks.get(abs);
	}

	/** Runs gates one after another, recording each result. */
	private async runGates(gates: Gate[], files: string[] = []): Promise<GateResult[]> {
		const results: GateResult[] = [];
		for (const gate of gates) {
			const outcome = await runCommandGate(gate, this.cwd, files);
			const result: GateResult = { gate: gate.name, kind: gate.kind, status: outcome.status, command: gate.command, at: Date.now() };
			if (outcome.status === "failed") Object.assign(result, { exitCode: outcome.exitCode, detail: outcome.output });
			if (outcome.status === "unavailable") result.detail = outcome.reason;
			this.record(result);
			results.push(result);
		}
		return results;
	}

	/** Command gates of a kind, minus the loop's own check while a loop runs (it is not run twice). */
	private commandGates(kind: Gate["kind"]): Gate[] {
		const loopCheck = runningLoopCheck(this.cwd);
		return this.active(kind).filter((g) => g.command !== undefined && g.command !== loopCheck);
	}

	/** turn_end: fast checks after a turn that changed files, told to the agent before its next step. */
	turnEnded(continues: boolean, io: GateIO): void {
		const changed = this.changedThisTurn;
		this.changedThisTurn = new Set();
		const gates = this.commandGates("onTurnEnd");
		if (!continues || changed.size === 0 || gates.length === 0) return;
		this.work = this.work.then(async () => {
			const failures = (await this.runGates(gates)).filter((r) => r.status !== "passed");
			if (failures.length > 0) io.steer(turnEndMessage(failures));
		});
	}

	/** input: a prompt that is not our own fix round starts a fresh count of rounds. */
	inputSeen(text: string): void {
		if (this.pendingFix !== undefined && text === this.pendingFix) {
			this.pendingFix = undefined;
			return;
		}
		this.round = 0;
	}

	/** agent_end: run the on-done gates when the prompt changed files; start a fix round or stop. */
	agentEnded(stopReason: string | undefined, io: GateIO): void {
		const changed = this.changedThisPrompt;
		this.changedThisPrompt = new Set();
		this.changedThisTurn = new Set();
		const gates = runningLoopCheck(this.cwd) !== undefined ? [] : this.commandGates("onDone");
		// A fix round that changed nothing is still checked: the failures have not gone away by themselves.
		if ((changed.size === 0 && this.round === 0) || gates.length === 0 || stopReason === "aborted" || stopReason === "error") {
			this.finishChain();
			return;
		}
		this.chain ??= deferred();
		this.work = this.work.then(async () => {
			const failures = (await this.runGates(gates)).filter((r) => r.status !== "passed");
			if (failures.length === 0) {
				this.say(`gates: ${gates.map((g) => `✓ ${g.name}`).join(" ")}`);
				this.round = 0;
				this.finishChain();
				return;
			}
			const rounds = this.plan().rounds;
			if (this.round >= rounds) {
				this.say(stopMessage(failures, rounds), "error");
				if (this.ctx && !this.ctx.hasUI) process.exitCode = 1;
				this.round = 0;
				this.finishChain();
				return;
			}
			this.round++;
			const text = fixRoundMessage(failures, this.round, rounds);
			this.pendingFix = text;
			this.say(`gates: ${failures.map((f) => `✗ ${f.gate}`).join(" ")} — fix round ${this.round} of ${rounds}`, "warning");
			io.sendUserMessage(text, this.ctx?.isIdle() === false ? "followUp" : undefined);
			// If the fix round never starts (pi refused the message), do not keep anyone waiting for it.
			setTimeout(() => {
				if (this.pendingFix === text) {
					this.pendingFix = undefined;
					this.finishChain();
				}
			}, FIX_START_GRACE_MS).unref();
		});
	}

	private finishChain(): void {
		this.chain?.done();
		this.chain = undefined;
	}

	/** Resolves when no on-done gates or fix rounds are still to come (print mode waits for it before exiting). */
	async settled(): Promise<void> {
		await this.work;
		await this.chain?.promise;
		await this.work;
	}

	/** `/gates run [name]`: command gates (on the files written this session where they take `{files}`). */
	async runNow(name?: string): Promise<GateResult[]> {
		const gates = this.plan().gates.filter((g) => (name === undefined || g.name === name) && g.command !== undefined);
		const results: GateResult[] = [];
		for (const gate of gates) {
			const files = [...this.written].map((f) => relative(this.cwd, f).split(sep).join("/"));
			if (gate.command?.includes("{files}") && files.length === 0) continue;
			results.push(...(await this.runGates([gate], files)));
		}
		return results;
	}

	/** `/gates run <name>` for a language-server gate: diagnostics of every file written this session. */
	async diagnoseWritten(): Promise<Map<string, string>> {
		return checkWrites({ cwd: this.cwd, gates: this.plan().gates.filter((g) => g.languageServer), server: () => this.typescript(), previous: new Map(), record: (r) => this.record(r) }, [...this.written]);
	}

	private say(text: string, level: "info" | "warning" | "error" = "info"): void {
		if (this.ctx) notify(this.ctx, text, level);
	}

	killServer(): void {
		this.server?.kill();
	}

	async stopServer(): Promise<void> {
		await this.server?.stop();
	}
}

function deferred(): { promise: Promise<void>; done: () => void } {
	let done = () => {};
	const promise = new Promise<void>((resolve) => {
		done = resolve;
	});
	return { promise, done };
}

export function runtimeFor(cwd: string): GateRuntime {
	const runtimes = processWide("gate-runtimes", () => {
		const created = new Map<string, GateRuntime>();
		process.once("exit", () => {
			for (const r of created.values()) r.killServer();
		});
		return created;
	});
	let runtime = runtimes.get(cwd);
	if (!runtime) {
		runtime = new GateRuntime(cwd);
		runtimes.set(cwd, runtime);
	}
	return runtime;
}
