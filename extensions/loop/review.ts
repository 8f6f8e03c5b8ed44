/**
 * Review passes (--review): the reviewer's prompt around an iteration's diff,
 * and reading its verdict. A review blocks only with an explicit
 * `<verdict>block</verdict>`.
 */

import { type AgentOutcome, agentError } from "./engine.ts";
import type { IterationRecord, SideCall } from "./types.ts";

const MAX_DIFF_CHARS = 60_000;

export function reviewPrompt(subject: string, diff: string, instructions: string): string {
	const shown =
		diff.length > MAX_DIFF_CHARS
			? `${diff.slice(0, MAX_DIFF_CHARS)}\n[… diff cut at ${MAX_DIFF_CHARS} characters of ${diff.length}]`
			: diff;
	return [
		"# Review",
		"",
		`The change was made for: ${subject}`,
		"Its checks pass. The diff:",
		"",
		"```diff",
		shown.trimEnd() || "(no changes)",
		"```",
		"",
		"## Instructions",
		instructions,
	].join("\n");
}

export interface Verdict {
	blocking: boolean;
	findings: string;
}

export function parseVerdict(text: string): Verdict {
	const tags = [...text.matchAll(/<verdict>\s*(approve|block)\s*<\/verdict>/gi)];
	const last = tags.at(-1)?.[1]?.toLowerCase();
	const findings = text.replace(/<verdict>[\s\S]*?<\/verdict>/gi, "").trim();
	return { blocking: last === "block", findings };
}

/** Runs a review pass in a fresh session on the review role's model and reads its verdict. */
export function createReviewer(options: {
	diffSince: (baseline: string | undefined) => Promise<string>;
	run: (prompt: string, signal: AbortSignal, role: string) => Promise<AgentOutcome>;
	instructions: string;
	timeoutMs: number;
}): (iteration: IterationRecord, subject: string, signal: AbortSignal) => Promise<SideCall> {
	return async (iteration, subject, signal) => {
		const overtime = AbortSignal.timeout(options.timeoutMs);
		let outcome: AgentOutcome;
		try {
			const diff = await options.diffSince(iteration.baseline);
			outcome = await options.run(
				reviewPrompt(subject, diff, options.instructions),
				AbortSignal.any([signal, overtime]),
				"review",
			);
		} catch (error) {
			outcome = agentError((error as Error).message);
		}
		if (outcome.status === "aborted" && overtime.aborted && !signal.aborted) {
			outcome = {
				...outcome,
				status: "error",
				error: `the review exceeded its time limit of ${Math.round(options.timeoutMs / 1000)}s`,
			};
		}
		const verdict = parseVerdict(outcome.text);
		const failed = outcome.status !== "ok";
		return {
			kind: "review",
			iteration: iteration.n,
			role: "review",
			model: outcome.model,
			usage: outcome.usage,
			blocking: !failed && verdict.blocking,
			findings: failed ? `review did not complete: ${outcome.error ?? outcome.status}` : verdict.findings,
			failed,
			aborted: outcome.status === "aborted",
		};
	};
}
