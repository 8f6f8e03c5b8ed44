/**
 * The gates of one project in one pi process: the plan, the warm language
 * server, the latest results, the files changed per turn and per prompt,
 * and the on-done check. Lives process-wide so it survives the session
 * replacements of /loop iterations; the event handlers in index.ts call in
 * and bind the current session's ctx and pi each time.
 */
import type { ExtensionContext } from "@mariozechner/pi-coding-agent";
import { notify } from "../shared/notify.ts";
import { posixRelative } from "../shared/posix-path.ts";
import { processWide } from "../shared/process-wide.ts";
import { commandResult, filesFor, runCommandGate } from "./command-gate.ts";
import { DoneRounds } from "./done-rounds.ts";
import { runningLoopCheck } from "./loop-activity.ts";
import {
	fixRoundMessage,
	type GateResult,
	gatesReport,
	needsFix,
	resultKey,
	resultMarks,
	statusLine,
	stopMessage,
	turnEndMessage,
} from "./messages.ts";
import { type Gate, type GatePlan, planGates } from "./plan.ts";
import { protectedReason, toolPath } from "./protect.ts";
import { DiagnosticServers } from "./server-pool.ts";
import { WriteBatcher } from "./write-batch.ts";
import { CheckMemory, checkWrites } from "./write-check.ts";

/** How the runtime talks back to the current session. */
export interface GateIO {
	sendUserMessage: (text: string, deliverAs?: "followUp") => void;
	steer: (text: string) => void;
}

export class GateRuntime {
	private current?: GatePlan;
	off = false;
	private pool?: DiagnosticServers;
	readonly results = new Map<string, GateResult>();
	private readonly memory = new CheckMemory();
	private readonly batcher = new WriteBatcher<string>((files) =>
		checkWrites(
			{
				cwd: this.cwd,
				gates: this.runnable(this.active("onWrite")),
				servers: () => this.servers(),
				memory: this.memory,
				record: (r) => this.record(r),
			},
			files,
		),
	);
	private changedThisTurn = new Set<string>();
	private changedThisPrompt = new Set<string>();
	/** Files of the check that started the running fix round: its end is checked against them too. */
	private carry = new Set<string>();
	readonly written = new Set<string>();
	private readonly rounds = new DoneRounds(() => this.plan().rounds);
	private work: Promise<void> = Promise.resolve();
	private busy = 0;
	private running?: AbortController;
	/** Bumped when a new session starts: answers for an older one are not sent into it. */
	private generation = 0;
	private ctx?: ExtensionContext;
	private io?: GateIO;
	private reported = new Set<string>();

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

	/** Gates detected but unable to run are said once, not on every write. */
	private runnable(gates: Gate[]): Gate[] {
		for (const g of gates)
			if (g.unavailable)
				this.once(`${g.kind}:${g.name}:${g.unavailable}`, `gates: ${g.name} skipped — ${g.unavailable}`, "warning");
		return gates.filter((g) => !g.unavailable);
	}

	private servers(): DiagnosticServers {
		this.pool ??= new DiagnosticServers(this.cwd);
		return this.pool;
	}

	/** Per language server a gate uses: which server answers and whether it runs. */
	serverLabels(): string[] {
		const names = new Set(
			this.plan().gates.flatMap((g) => (g.languageServer && !g.unavailable ? [g.languageServer] : [])),
		);
		return [...names].map((name) => this.servers().describe(name));
	}

	/** The session's ctx and pi for what comes next; `newSession` marks a session start. */
	bind(ctx: ExtensionContext, io: GateIO, newSession = false): void {
		this.ctx = ctx;
		this.io = io;
		if (newSession) {
			// Nothing of an older session's prompt is checked or fixed in this one.
			this.generation++;
			this.running?.abort();
			this.changedThisTurn = new Set();
			this.changedThisPrompt = new Set();
			this.carry = new Set();
			this.rounds.reset();
			this.showStatus(); // the new session's footer; later changes come with each result
		}
		const error = this.plan().configError;
		if (error) this.once(error, `gates are off: ${error}`, "error");
	}

	private once(key: string, text: string, level: "warning" | "error"): void {
		if (this.reported.has(key)) return;
		this.reported.add(key);
		this.say(text, level);
	}

	private record(result: GateResult): void {
		this.results.set(resultKey({ kind: result.kind, name: result.gate }), result);
		this.showStatus();
	}

	showStatus(text?: string): void {
		try {
			const ctx = this.ctx;
			if (ctx?.hasUI) ctx.ui.setStatus("gates", text ?? statusLine(this.plan(), this.results, this.off));
		} catch {
			// a stale context after a session switch; the next bind shows it
		}
	}

	report(): string {
		return gatesReport(this.plan(), this.results, this.off, { servers: this.serverLabels() });
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
		const abs = toolPath(this.cwd, path);
		if (ok) {
			for (const set of [this.changedThisTurn, this.changedThisPrompt, this.written]) set.add(abs);
		}
		const blocks = await this.batcher.arrive(toolCallId, ok && this.active("onWrite").length > 0 ? abs : undefined);
		return blocks.get(abs);
	}

	private rel(files: Iterable<string>): string[] {
		return [...files].map((f) => posixRelative(this.cwd, f));
	}

	/** Runs gates one after another on the files their globs accept, recording each result. */
	private async runGates(gates: Gate[], changed: string[], signal?: AbortSignal): Promise<GateResult[]> {
		const results: GateResult[] = [];
		for (const gate of gates) {
			if (signal?.aborted) break;
			this.showStatus(`⟳ gates: ${gate.name}…`);
			const outcome = await runCommandGate(gate, this.cwd, filesFor(gate, changed), signal);
			const result = commandResult(gate, outcome);
			this.record(result);
			results.push(result);
		}
		this.showStatus();
		return results;
	}

	/**
	 * Command gates of a kind that apply to the changed files (all of them
	 * when a gate has no glob), minus the loop's own check while a loop runs.
	 */
	private commandGates(kind: Gate["kind"], changed: string[]): Gate[] {
		const loopCheck = runningLoopCheck(this.cwd);
		return this.active(kind).filter(
			(g) => g.command !== undefined && g.command !== loopCheck && (!g.glob || filesFor(g, changed).length > 0),
		);
	}

	/** Queues work so gate runs never overlap; a failure is reported, never left to crash pi. */
	private enqueue(step: (signal: AbortSignal) => Promise<void>): void {
		this.busy++;
		this.work = this.work.then(async () => {
			const controller = new AbortController();
			this.running = controller;
			try {
				await step(controller.signal);
			} catch (error) {
				this.say(`gates: ${(error as Error).message}`, "error");
			} finally {
				this.running = undefined;
				this.busy--;
			}
		});
	}

	/** turn_end: fast checks after a turn that changed files, told to the agent before its next step. */
	turnEnded(continues: boolean): void {
		const changed = this.rel(this.changedThisTurn);
		this.changedThisTurn = new Set();
		const gates = this.runnable(this.commandGates("onTurnEnd", changed));
		if (!continues || changed.length === 0 || gates.length === 0) return;
		const generation = this.generation;
		this.enqueue(async (signal) => {
			if (!this.on) return; // turned off while queued
			const failures = (await this.runGates(gates, changed, signal)).filter(needsFix);
			if (failures.length > 0 && generation === this.generation && this.ctx?.isIdle() === false)
				this.io?.steer(turnEndMessage(failures));
		});
	}

	inputSeen(text: string, source?: string): void {
		if (this.rounds.inputSeen(text, source)) this.carry = new Set();
	}

	runStarted(): void {
		this.rounds.runStarted();
	}

	compacting(): void {
		this.rounds.compacting();
	}

	private roundIO() {
		return {
			send: (text: string) => this.io?.sendUserMessage(text, this.ctx?.isIdle() === false ? "followUp" : undefined),
			say: (text: string, level: "info" | "warning" | "error") => this.say(text, level),
			headless: () => this.ctx?.hasUI === false,
		};
	}

	/**
	 * agent_end: when the prompt (or its fix round) changed files, run the
	 * on-done gates, then start a fix round or stop. A failed or aborted run
	 * keeps its changes for the next run that completes (pi's retry, or
	 * "continue").
	 */
	agentEnded(stopReason: string | undefined): void {
		const fixEnded = this.rounds.runEnded(stopReason, this.roundIO());
		if (stopReason === "aborted" || stopReason === "error") return;
		const changedNow = this.changedThisPrompt;
		this.changedThisPrompt = new Set();
		this.changedThisTurn = new Set();
		const files = new Set([...this.carry, ...changedNow]);
		const changed = this.rel(files);
		const gates = runningLoopCheck(this.cwd) !== undefined ? [] : this.commandGates("onDone", changed);
		// A fix round that changed nothing is still checked: the failures have not gone away by themselves.
		if ((changedNow.size === 0 && !fixEnded) || gates.length === 0) return;
		const ticket = this.rounds.ticket();
		const generation = this.generation;
		this.enqueue(async (signal) => {
			if (!this.on) return; // turned off while queued
			const results = await this.runGates(gates, changed, signal);
			if (signal.aborted || !this.on)
				this.say(`gates: on-done check stopped (${this.on ? "the session changed" : "/gates off"})`, "warning");
			else if (generation !== this.generation)
				this.say(`gates: ${resultMarks(results)} — the session changed, nothing sent`, "warning");
			else this.carry = this.rounds.decide(results, ticket, this.roundIO()) ? files : new Set();
		});
	}

	/**
	 * A blueprint spawn that asked for every gate (`gates: "all"`): the on-done gates on the files it changed, run
	 * now. While fix rounds are left (round counts those already sent), the fix-round text for the spawn's session.
	 */
	async checkDoneForSpawn(changed: string[], round: number, signal?: AbortSignal): Promise<SpawnDoneCheck> {
		const rel = this.rel(changed.map((f) => toolPath(this.cwd, f)));
		const gates = this.runnable(
			this.active("onDone").filter((g) => g.command !== undefined && (!g.glob || filesFor(g, rel).length > 0)),
		);
		if (gates.length === 0) return { marks: "" };
		const results = await this.runGates(gates, rel, signal);
		const fixable = results.filter(needsFix);
		const rounds = this.plan().rounds;
		const marks = resultMarks(results);
		if (fixable.length === 0) return { marks };
		if (round >= rounds) return { marks, stopped: stopMessage(fixable, rounds) };
		return { marks, fix: fixRoundMessage(fixable, round + 1, rounds) };
	}

	/** Resolves when no on-done gates or fix rounds are still to come (print mode waits for it before exiting). */
	async settled(): Promise<void> {
		await this.work;
		await this.rounds.settled(() => this.busy > 0, this.roundIO());
		await this.work;
	}

	/** `/gates off`: a gate run under way stops too. */
	setOff(off: boolean): void {
		this.off = off;
		if (off) this.running?.abort();
		this.showStatus();
	}

	/** `/gates run [name]`: command gates, those taking `{files}` on the files written in this process. */
	async runNow(name?: string): Promise<GateResult[]> {
		const written = this.rel(this.written);
		const gates = this.plan().gates.filter((g) => (name === undefined || g.name === name) && g.command !== undefined);
		return this.runGates(
			gates.filter((g) => !g.command?.includes("{files}") || filesFor(g, written).length > 0),
			written,
		);
	}

	/** `/gates run <name>` for a language-server gate: diagnostics of every file written this process. */
	async diagnoseWritten(): Promise<Map<string, string>> {
		return checkWrites(
			{
				cwd: this.cwd,
				gates: this.runnable(this.plan().gates.filter((g) => g.languageServer)),
				servers: () => this.servers(),
				memory: new CheckMemory(),
				record: (r) => this.record(r),
			},
			[...this.written],
		);
	}

	private say(text: string, level: "info" | "warning" | "error" = "info"): void {
		try {
			if (this.ctx) notify(this.ctx, text, level);
		} catch {
			process.stderr.write(`${text}\n`); // the session this ctx belonged to is gone
		}
	}

	killServer(): void {
		this.pool?.kill();
	}

	async stopServer(): Promise<void> {
		await this.pool?.stop();
	}
}

/** What the on-done gates said about a spawn's changes: the marks, and a fix round to send or why none is left. */
export interface SpawnDoneCheck {
	marks: string;
	fix?: string;
	stopped?: string;
}

function runtimes(): Map<string, GateRuntime> {
	return processWide("gate-runtimes", () => {
		const created = new Map<string, GateRuntime>();
		process.once("exit", () => {
			for (const r of created.values()) r.killServer();
		});
		return created;
	});
}

export function runtimeFor(cwd: string): GateRuntime {
	const all = runtimes();
	let runtime = all.get(cwd);
	if (!runtime) {
		runtime = new GateRuntime(cwd);
		all.set(cwd, runtime);
	}
	return runtime;
}

/** A directory whose gates are done with (an isolated spawn's worktree): its servers stop, its runtime goes. */
export async function releaseRuntime(cwd: string): Promise<void> {
	const runtime = runtimes().get(cwd);
	if (!runtime) return;
	runtimes().delete(cwd);
	await runtime.stopServer();
}
