/**
 * The check loop (/loop until|tests|lint|types): each cycle runs the check
 * once — it is also the previous iteration's "after" check — and ends the run
 * when it passes (with --promise: when it passes and the agent promised).
 */

import { plural } from "../check-text.ts";
import { type RunContext, recordSideCall, type StopDecision, type Workflow } from "../engine.ts";
import { buildIterationPrompt } from "../prompt.ts";
import type { CheckRecord } from "../types.ts";

/** With --review: a review of the last iteration once its check passes. */
async function reviewVerdict(run: RunContext, rounds: number): Promise<"pass" | "block" | "abort"> {
	const { state } = run;
	const previous = state.history.at(-1);
	const done = (state.calls ?? []).filter((c) => c.kind === "review" && !c.failed).length;
	if (!run.deps.review || !previous || done >= rounds) return "pass";
	const call = await run.deps.review(previous, state.goal, run.signal);
	recordSideCall(run, call);
	if (call.aborted || run.signal.aborted) return "abort";
	if (call.failed) {
		run.event({ type: "review_failed", iteration: previous.n, detail: call.findings });
		run.save();
		return "pass";
	}
	state.reviewFindings = call.blocking ? call.findings : undefined;
	if (call.blocking) run.event({ type: "review_blocked", iteration: previous.n, findings: call.findings });
	run.save();
	return call.blocking ? "block" : "pass";
}

async function verdict(run: RunContext, check: CheckRecord, reviewRounds: number): Promise<StopDecision | undefined> {
	const { state, event } = run;
	const previous = state.history.at(-1);
	const promise = state.options.promise;
	if (check.exitCode === 0) {
		const review = await reviewVerdict(run, reviewRounds);
		if (review === "abort") return { reason: "aborted", detail: "the review pass was aborted" };
		if (review === "block") return undefined;
		state.reviewFindings = undefined;
		if (!promise)
			return {
				reason: "passed",
				detail: previous
					? `passed after ${plural(state.history.length, "iteration")}`
					: "passed at the start; no model call was needed",
			};
		if (previous?.promiseMade) return { reason: "promise", detail: `check passes and the agent promised "${promise}"` };
		if (previous)
			event({
				type: "promise_missing",
				iteration: previous.n,
				detail: "check passes but the agent has not made its promise yet",
			});
	} else if (previous?.promiseMade) {
		event({
			type: "promise_rejected",
			iteration: previous.n,
			detail: "the agent promised completion but the check fails",
		});
	}
	return undefined;
}

/** reviewRounds: how many review passes (--review) a run gets at most. */
export function checkLoop(reviewRounds = 1): Workflow {
	return {
		async begin(run, resumed) {
			const { state } = run;
			// After a crash, a check already recorded for this boundary is not run again.
			const last = state.history.at(-1);
			const reuse = resumed && state.checks.length > 0 && (last === undefined || last.checkAfter !== undefined);
			const check = reuse ? (state.checks.at(-1) as CheckRecord) : await run.check();
			return check ? verdict(run, check, reviewRounds) : undefined;
		},
		async prepare(run, n) {
			return { prompt: buildIterationPrompt(run.state, n), task: run.state.goal };
		},
		async finish() {
			return undefined;
		},
	};
}
