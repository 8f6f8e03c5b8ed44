/**
 * The events.jsonl contract (README "State files"): one typed union of every
 * event a loop run writes, so a field the README names and the code writes
 * cannot drift apart unnoticed. Each line also carries `ts`, added on write.
 */
import type { FailureIdentity } from "../core/failure-identity.ts";
import type {
	AgentStatus,
	EndReason,
	ExecRecord,
	LoopOptions,
	MergeRecord,
	Preset,
	SpawnRecord,
	Usage,
} from "./types.ts";

/** Usage of one model call, with its cost repeated at the top level for readers of the log. */
interface Costed {
	role?: string;
	model?: string;
	usage: Usage;
	cost: number;
}

export type LoopEvent =
	| { type: "run_start"; preset: Preset; check: string; goal: string; options: LoopOptions }
	| { type: "run_resume"; iteration: number; elapsedMs: number }
	| {
			type: "check";
			exitCode: number;
			durationMs: number;
			failures?: number;
			timedOut: boolean;
			fingerprint: string;
			identity?: FailureIdentity["kind"];
			failureIds?: string[];
			noTests?: string;
	  }
	| { type: "iteration_start"; iteration: number }
	| ({
			type: "iteration_end";
			iteration: number;
			agent: AgentStatus;
			error?: string;
			filesChanged: string[];
			promiseMade?: boolean;
			durationMs?: number;
			session?: string;
	  } & Costed)
	| { type: "snapshot_error"; detail: string }
	| { type: "promise_missing" | "promise_rejected"; iteration: number; detail: string }
	| ({ type: "review"; iteration: number; item?: string; blocking?: boolean; failed?: boolean } & Costed)
	| ({ type: "commit_message"; iteration: number; item?: string; blocking?: boolean; failed?: boolean } & Costed)
	| { type: "review_failed"; iteration: number; item?: string; detail?: string }
	| { type: "review_blocked"; iteration: number; item?: string; findings?: string }
	| { type: "item_done"; item: string; iteration: number; commit?: string }
	| { type: "item_failed"; item: string; iteration: number; attempt: number }
	| { type: "item_blocked"; item: string; iteration: number; reason: string }
	| { type: "item_not_attempted" | "tick_overridden"; item: string; iteration: number; detail: string }
	| { type: "commit_failed"; item: string; detail: string }
	| { type: "commit_message_failed"; iteration: number; item: string; detail: string }
	| { type: "run_end"; reason: EndReason; detail: string; iterations: number }
	// blueprint runs (/loop run); `position` is the step's place in the run (the journal's key)
	| { type: "blueprint_start"; file: string; args: string[]; attempt: number; journaled: number }
	| { type: "spawn_start"; position: number; agent: string; step?: number | string; model: string; role: string }
	/** The spawn's record as state.json keeps it, with its cost repeated at the top level. */
	| ({ type: "spawn_end"; cost: number } & SpawnRecord)
	| ({ type: "exec" } & ExecRecord)
	| { type: "log"; level: "debug" | "info" | "warning" | "error"; message: string; data?: unknown }
	| { type: "phase"; title: string }
	| { type: "metric"; name: string; value: number }
	/** Replay ended: `steps` came from the journal; the step at `position` and all after it run live. */
	| { type: "replayed"; steps: number; position: number; detail: string }
	| { type: "model_fallback"; detail: string }
	| ({ type: "merge" } & MergeRecord);
