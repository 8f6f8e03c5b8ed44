/**
 * The on-done fix rounds of one project: how many were used for the user's
 * current prompt, which follow-up prompt is ours, whether the answer still
 * belongs to the prompt it was for, and when nothing more is to come (print
 * mode waits for that before pi exits).
 */
import { fixRoundMessage, type GateResult, stopMessage } from "./messages.ts";

export interface RoundIO {
	/** Starts the fix round (a follow-up user message). */
	send: (text: string) => void;
	say: (text: string, level: "info" | "warning" | "error") => void;
	/** No UI (print mode): the exit code should say gates failed. */
	headless: () => boolean;
}

/** What the on-done check was for: the user input count when it started. */
export interface DoneTicket {
	inputs: number;
}

export const FIX_START_GRACE_MS = 10_000;
const SETTLE_IDLE_MS = 3_000;

export class DoneRounds {
	private round = 0;
	private pendingFix?: string;
	private userInputs = 0;
	private chain?: { promise: Promise<void>; done: () => void };

	constructor(private readonly rounds: () => number) {}

	get open(): boolean {
		return this.chain !== undefined;
	}

	get roundsUsed(): number {
		return this.round;
	}

	/** input: our own follow-up continues the count; anything else is a new prompt of the user's. */
	inputSeen(text: string): void {
		if (this.pendingFix !== undefined && text === this.pendingFix) {
			this.pendingFix = undefined;
			return;
		}
		this.userInputs++;
		this.round = 0;
	}

	/** An on-done check is about to run. */
	begin(): DoneTicket {
		if (!this.chain) {
			let done = () => {};
			const promise = new Promise<void>((resolve) => {
				done = resolve;
			});
			this.chain = { promise, done };
		}
		return { inputs: this.userInputs };
	}

	finish(): void {
		this.chain?.done();
		this.chain = undefined;
	}

	/** Decides after the on-done gates ran: all clear, a fix round, or stop. */
	decide(results: GateResult[], ticket: DoneTicket, io: RoundIO): void {
		const fixable = results.filter((r) => r.status !== "passed" && !r.cannotRun);
		const cannotRun = results.filter((r) => r.cannotRun);
		const marks = results.map((r) => `${r.status === "passed" ? "✓" : r.cannotRun ? "?" : "✗"} ${r.gate}`).join(" ");
		if (cannotRun.length > 0) io.say(`gates: could not run ${cannotRun.map((r) => `${r.gate} (${r.detail})`).join("; ")} — not sent to the agent`, "warning");
		if (fixable.length === 0) {
			io.say(`gates: ${marks}`, "info");
			this.round = 0;
			this.finish();
			return;
		}
		if (ticket.inputs !== this.userInputs) {
			io.say(`gates: ${marks} — not sent to the agent: a newer prompt of yours came first`, "warning");
			this.finish();
			return;
		}
		const rounds = this.rounds();
		if (this.round >= rounds) {
			io.say(stopMessage(fixable, rounds), "error");
			if (io.headless()) process.exitCode = 1;
			this.round = 0;
			this.finish();
			return;
		}
		this.round++;
		const text = fixRoundMessage(fixable, this.round, rounds);
		this.pendingFix = text;
		io.say(`gates: ${marks} — fix round ${this.round} of ${rounds}`, "warning");
		try {
			io.send(text);
		} catch (error) {
			this.pendingFix = undefined;
			io.say(`gates: could not start the fix round: ${(error as Error).message}`, "error");
			this.finish();
			return;
		}
		// If pi never takes the follow-up (another extension swallowed it), nobody keeps waiting for it.
		setTimeout(() => {
			if (this.pendingFix === text) {
				this.pendingFix = undefined;
				this.finish();
			}
		}, FIX_START_GRACE_MS).unref();
	}

	/**
	 * Resolves when no on-done check or fix round is still to come: the chain
	 * is closed, or nothing has been busy and the agent has been idle for a
	 * few seconds with no follow-up pending.
	 */
	async settled(busy: () => boolean, idle: () => boolean): Promise<void> {
		let quietSince = Date.now();
		while (this.chain) {
			if (busy() || !idle() || this.pendingFix !== undefined) quietSince = Date.now();
			else if (Date.now() - quietSince > SETTLE_IDLE_MS) this.finish();
			await new Promise((r) => setTimeout(r, 50));
		}
	}
}
