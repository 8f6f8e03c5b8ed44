/**
 * The on-done fix rounds of one project: how many were used for the user's
 * current prompt, which follow-up prompt is ours, whether an answer still
 * belongs to the prompt it was for, and when nothing more is to come (print
 * mode waits for that before pi exits).
 */
import { FIX_PREFIX, fixRoundMessage, type GateResult, needsFix, resultMarks, stopMessage } from "./messages.ts";

export interface RoundIO {
	/** Starts the fix round (a follow-up user message). */
	send: (text: string) => void;
	say: (text: string, level: "info" | "warning" | "error") => void;
	/** No UI (print mode): the exit code should say gates failed. */
	headless: () => boolean;
}

/** Which user prompt and which round an on-done check answers. */
export interface DoneTicket {
	inputs: number;
	round: number;
}

export const FIX_START_GRACE_MS = 10_000;
/**
 * After a fix round's run ends in an error, how long pi may take to retry it
 * (its backoff is 2 + 4 + 8 s) or compact.
 */
export const FIX_RETRY_WAIT_MS = 60_000;

/** A fix round from sending to the end of its agent run. */
interface FixRound {
	text: string;
	/** pi took it as input (the run starts or is queued), at this time. */
	seen: boolean;
	seenAt?: number;
	/** Its run started (only that run's end is the fix round's end). */
	started?: boolean;
	/** Its run ended in an error at this time; a retry may still come. */
	erroredAt?: number;
	failures: GateResult[];
}

export class DoneRounds {
	private round = 0;
	private userInputs = 0;
	private fix?: FixRound;

	constructor(private readonly rounds: () => number) {}

	/** input: our own follow-up continues the count; anything else is a new prompt of the user's (returns true). */
	inputSeen(text: string, source?: string): boolean {
		const fix = this.fix;
		if (fix && !fix.seen && (text === fix.text || (source === "extension" && text.startsWith(FIX_PREFIX)))) {
			fix.seen = true;
			fix.seenAt = Date.now();
			return false;
		}
		// The user's own prompt takes over: whatever fix round was under way is no longer followed.
		this.fix = undefined;
		this.userInputs++;
		this.round = 0;
		return true;
	}

	/** agent_start: the fix round's run (or pi's retry of it) is under way. */
	runStarted(): void {
		if (!this.fix?.seen) return;
		this.fix.started = true;
		this.fix.erroredAt = undefined;
	}

	/** Compaction before a retry takes its time: the wait for the retry starts again. */
	compacting(): void {
		if (this.fix?.erroredAt !== undefined) this.fix.erroredAt = Date.now();
	}

	/**
	 * agent_end: whether the run that ended was our fix round (its end must be
	 * checked even when it changed nothing).
	 */
	runEnded(stopReason: string | undefined, io: RoundIO): boolean {
		const fix = this.fix;
		if (!fix?.started) return false;
		if (stopReason === "error") {
			fix.erroredAt = Date.now();
			return false;
		}
		this.fix = undefined;
		if (stopReason === "aborted") {
			io.say("gates: fix round aborted; the gates were not run again", "warning");
			this.round = 0;
			return false;
		}
		return true;
	}

	/** An on-done check is about to run for the current prompt and round. */
	ticket(): DoneTicket {
		return { inputs: this.userInputs, round: this.round };
	}

	/** Decides after the on-done gates ran: all clear, a fix round, or stop. Returns whether a fix round was sent. */
	decide(results: GateResult[], ticket: DoneTicket, io: RoundIO): boolean {
		const fixable = results.filter(needsFix);
		const cannotRun = results.filter((r) => r.cannotRun);
		const marks = resultMarks(results);
		if (cannotRun.length > 0)
			io.say(
				`gates: could not run ${cannotRun.map((r) => `${r.gate} (${r.detail})`).join("; ")} — not sent to the agent`,
				"warning",
			);
		if (ticket.inputs !== this.userInputs) {
			if (fixable.length > 0)
				io.say(`gates: ${marks} — not sent to the agent: a newer prompt of yours came first`, "warning");
			return false;
		}
		if (ticket.round !== this.round || this.fix !== undefined) {
			// A run between rounds (not the fix round's own) wrote files: its check does not start or stop rounds.
			io.say(
				`gates: ${marks}${fixable.length > 0 ? ` — fix round ${this.round} is under way` : ""}`,
				fixable.length > 0 ? "warning" : "info",
			);
			return false;
		}
		if (fixable.length === 0) {
			io.say(`gates: ${marks}`, "info");
			this.round = 0;
			return false;
		}
		const rounds = this.rounds();
		if (this.round >= rounds) {
			this.stop(fixable, rounds, io);
			return false;
		}
		this.round++;
		const text = fixRoundMessage(fixable, this.round, rounds);
		const fix: FixRound = { text, seen: false, failures: fixable };
		this.fix = fix;
		io.say(`gates: ${marks} — fix round ${this.round} of ${rounds}`, "warning");
		try {
			io.send(text);
		} catch (error) {
			this.fix = undefined;
			io.say(`gates: could not start the fix round: ${(error as Error).message}`, "error");
			return false;
		}
		// If pi never takes the follow-up (another extension swallowed it), nobody keeps waiting for it.
		setTimeout(() => {
			if (this.fix === fix && !fix.seen) this.fix = undefined;
		}, FIX_START_GRACE_MS).unref();
		return true;
	}

	private stop(failures: GateResult[], rounds: number, io: RoundIO): void {
		io.say(stopMessage(failures, rounds), "error");
		if (io.headless()) process.exitCode = 1;
		this.round = 0;
	}

	/** A new session: nothing of the old one's rounds carries over. */
	reset(): void {
		this.fix = undefined;
		this.round = 0;
	}

	/** Whether a check or a fix round is still to run, be retried or be checked (`busy`: a check is queued or running). */
	private pending(busy: boolean, io: RoundIO): boolean {
		if (busy) return true;
		const fix = this.fix;
		if (!fix) return false;
		const now = Date.now();
		const neverRan = fix.seen && !fix.started && now - (fix.seenAt ?? now) > FIX_START_GRACE_MS;
		const gaveUp = fix.erroredAt !== undefined && now - fix.erroredAt > FIX_RETRY_WAIT_MS;
		if (!neverRan && !gaveUp) return true;
		this.fix = undefined;
		io.say(neverRan ? "gates: the fix round never started" : "gates: the fix round ended in an error", "error");
		this.stop(fix.failures, this.round, io);
		return false;
	}

	/** Resolves when no on-done check or fix round is still to come. */
	async settled(busy: () => boolean, io: RoundIO): Promise<void> {
		while (this.pending(busy(), io)) await new Promise((r) => setTimeout(r, 50));
	}
}
