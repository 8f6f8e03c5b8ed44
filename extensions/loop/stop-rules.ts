/**
 * The loop's limit rules, as pure functions of the recorded history:
 * consecutive agent failures, stagnation (no progress) and the same
 * failures repeating (by failure identity). The engine asks after every check.
 */
import type { CheckRecord, EndReason, IterationRecord, LoopOptions } from "./types.ts";

export interface StopDecision {
	reason: EndReason;
	detail: string;
}

/**
 * An iteration made progress if it changed files, finished its item, or changed what fails: the check's
 * failure identity (the set of parsed failures, else the denoised output) differs from before it.
 */
export function madeProgress(iteration: IterationRecord, checks: CheckRecord[]): boolean {
	if (iteration.filesChanged.length > 0 || iteration.completed) return true;
	if (iteration.checkAfter === undefined) return true; // not judged yet
	const before = checks[iteration.checkBefore];
	const after = checks[iteration.checkAfter];
	return !before || !after || before.fingerprint !== after.fingerprint;
}

function trailingCount<T>(items: T[], predicate: (item: T) => boolean): number {
	let count = 0;
	for (let i = items.length - 1; i >= 0 && predicate(items[i] as T); i--) count++;
	return count;
}

/** The limit the history has hit, if any. Success and user requests are decided elsewhere. */
export function limitReached(
	history: IterationRecord[],
	checks: CheckRecord[],
	options: LoopOptions,
): StopDecision | undefined {
	const failures = trailingCount(history, (it) => it.agent === "error");
	if (failures >= options.maxFailures) {
		const last = history.at(-1)?.error ?? "unknown error";
		return { reason: "failures", detail: `${failures} consecutive agent errors (last: ${last})` };
	}
	// Agent errors are the failure rule's business: they neither count toward stagnation nor break it.
	const stalled = trailingCount(
		history.filter((it) => it.agent !== "error"),
		(it) => !madeProgress(it, checks),
	);
	if (stalled >= options.stagnation) {
		return {
			reason: "stagnation",
			detail: `${stalled} iterations in a row changed no files and left the same failures`,
		};
	}
	const lastCheck = checks.at(-1);
	if (lastCheck && lastCheck.exitCode !== 0) {
		const same = trailingCount(checks, (c) => c.fingerprint === lastCheck.fingerprint);
		if (same >= options.sameFailure) {
			return {
				reason: "stagnation",
				detail: `the same failure was seen ${same} checks in a row although files changed`,
			};
		}
	}
	return undefined;
}
