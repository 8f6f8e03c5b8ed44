/**
 * The iteration prompt: goal, position in the loop, the check and the tail
 * of its latest output, a digest of earlier iterations, and the working
 * instructions (the default ones, or the user's --prompt-file).
 */

import { describeCheck } from "./check-text.ts";
import type { CheckRecord, IterationRecord, LoopState } from "./types.ts";

export const DEFAULT_INSTRUCTIONS = [
	"You are one iteration of an automated loop. You start with no memory of earlier iterations:",
	"the files in this project and the digest above are all that carries over.",
	"",
	"- Read the check output, find the most important cause of the failure and fix that.",
	"- Keep the change small and focused; several small iterations beat one sprawling one.",
	"- Do not weaken, skip or delete tests or the check itself to make it pass.",
	"- You may run the check yourself to confirm a fix; the loop runs it again after you finish.",
	"- Never push, merge or change git history.",
	"- Finish with two or three sentences: what you changed, and what the next iteration should try " +
		"if the check still fails.",
].join("\n");

/** Said when the check's runner found no tests: there is nothing to fix yet, so the tests come first. */
const NO_TESTS_NOTE = [
	"The check ran but found no tests at all, so there is no failing test to fix.",
	"Write the tests the goal calls for (in the place and style the project's test runner looks for),",
	"then make them pass. Do not change the check command or its configuration to get around this.",
].join("\n");

export function defaultGoal(state: Pick<LoopState, "preset" | "check">): string {
	const what = {
		until: "the check",
		tests: "the tests",
		lint: "the linter",
		types: "the type checker",
		plan: "the checks",
		build: "the checks",
		prd: "the checks",
		run: "the blueprint's checks",
	}[state.preset];
	return `Make ${what} pass: \`${state.check}\` must exit 0.`;
}

function failureText(check: CheckRecord | undefined): string {
	if (!check) return "?";
	if (check.exitCode === 0) return "pass";
	if (check.noTests) return "no tests";
	return check.failures === undefined ? `exit ${check.exitCode}` : String(check.failures);
}

function oneIteration(it: IterationRecord, checks: CheckRecord[]): string {
	const more = it.filesChanged.length > 8 ? ` (+${it.filesChanged.length - 8} more)` : "";
	const files =
		it.filesChanged.length === 0 ? "no files changed" : `changed ${it.filesChanged.slice(0, 8).join(", ")}${more}`;
	const after = it.checkAfter === undefined ? undefined : checks[it.checkAfter];
	const trend = `failures ${failureText(checks[it.checkBefore])}→${failureText(after)}`;
	const agent = it.agent === "ok" ? "" : ` · agent ${it.agent}${it.error ? `: ${it.error}` : ""}`;
	const said = it.summary ? ` · said: "${it.summary}"` : "";
	return `- #${it.n}: ${files} · ${trend}${agent}${said}`;
}

/** A short digest of the last few iterations (older ones are counted, not listed). */
export function progressDigest(state: Pick<LoopState, "history" | "checks">, keep = 6): string {
	if (state.history.length === 0) return "This is the first iteration.";
	const shown = state.history.slice(-keep);
	const lines = shown.map((it) => oneIteration(it, state.checks));
	const hidden = state.history.length - shown.length;
	if (hidden > 0) lines.unshift(`- (${hidden} earlier iterations not shown)`);
	return lines.join("\n");
}

export function buildIterationPrompt(state: LoopState, n: number): string {
	const check = state.checks.at(-1) as CheckRecord;
	const status = describeCheck(check);
	const promise = state.options.promise
		? "\n\nThe loop also needs your word: only when the goal is fully met and the check passes, " +
			`end your reply with <promise>${state.options.promise}</promise>. Never write it otherwise.`
		: "";
	return [
		`# Loop iteration ${n} of ${state.options.max}`,
		"",
		"## Goal",
		state.goal,
		"",
		"## Check",
		`\`${state.check}\` — latest run ${status}. Last part of its output:`,
		"",
		"```text",
		check.tail.trimEnd() || "(no output)",
		"```",
		"",
		"## Progress so far",
		progressDigest(state),
		...(check.noTests && check.exitCode !== 0 ? ["", "## No tests found", NO_TESTS_NOTE] : []),
		...(state.reviewFindings
			? [
					"",
					"## Review findings to address first",
					"The check passed, but a review blocked the change:",
					"",
					state.reviewFindings,
				]
			: []),
		"",
		"## Instructions",
		(state.instructions ?? DEFAULT_INSTRUCTIONS).trim() + promise,
	].join("\n");
}
