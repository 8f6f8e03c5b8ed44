/**
 * Small text helpers below the views, shared by the prompts, the workflows
 * and the views: a counted noun, and one check's result in words. Pure.
 */
import type { CheckRecord } from "./types.ts";

export function plural(n: number, word: string): string {
	return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** `passed`, `failed (exit 1, 2 failures, timed out)`, or `failed (exit 5, no tests found: …)`. */
export function describeCheck(check: CheckRecord): string {
	if (check.exitCode === 0) return "passed";
	if (check.noTests) return `failed (exit ${check.exitCode}, no tests found — ${check.noTests})`;
	const count = check.failures === undefined ? "" : `, ${plural(check.failures, "failure")}`;
	return `failed (exit ${check.exitCode}${count}${check.timedOut ? ", timed out" : ""})`;
}
