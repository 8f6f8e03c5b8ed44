/**
 * Commit message bodies written by the commit (or smol) role's model from the
 * staged diff — only when such a role is configured; otherwise the plain
 * message stands and no model call is spent.
 */
import { completeSimple } from "@mariozechner/pi-ai";
import type { ModelChoice } from "../../roles/switcher.ts";
import type { SideCall, Usage } from "../types.ts";

export type CommitMessageWriter = (
	item: string,
	diff: string,
	signal: AbortSignal,
) => Promise<{ body: string; call: Omit<SideCall, "iteration"> }>;

/** A commit message is not worth holding up the loop for longer than this. */
const TIMEOUT_MS = 120_000;

export interface RequestAuth {
	apiKey?: string;
	headers?: Record<string, string>;
}

const SYSTEM =
	"You write git commit message bodies. Reply with the body only: " +
	"2-6 short lines saying what changed and why, plain text, no subject line, no markdown.";

export function modelCommitWriter(choice: ModelChoice, auth: () => Promise<RequestAuth>): CommitMessageWriter {
	return async (item, diff, signal) => {
		const { apiKey, headers } = await auth();
		const reply = await completeSimple(
			choice.model,
			{
				systemPrompt: SYSTEM,
				messages: [
					{ role: "user", content: `Task: ${item}\n\nStaged diff:\n${diff.slice(0, 40_000)}`, timestamp: Date.now() },
				],
			},
			{ apiKey, headers, signal: AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]) },
		);
		const usage: Usage = {
			input: reply.usage.input,
			output: reply.usage.output,
			cacheRead: reply.usage.cacheRead,
			cacheWrite: reply.usage.cacheWrite,
			cost: reply.usage.cost.total,
		};
		const body =
			reply.stopReason === "error" || reply.stopReason === "aborted"
				? ""
				: reply.content
						.flatMap((c) => (c.type === "text" ? [c.text] : []))
						.join("\n")
						.trim();
		return {
			body,
			call: {
				kind: "commit-message",
				item,
				role: choice.role ?? "commit",
				model: `${reply.provider}/${reply.model}`,
				usage,
			},
		};
	};
}
