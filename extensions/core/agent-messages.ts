/**
 * What an agent run's assistant messages add up to: token usage and cost (summed),
 * the last answer and its text. Shared by loop iterations (a session branch) and
 * blueprint spawns (an in-process session's messages). Pure.
 */
import type { AssistantMessage } from "@mariozechner/pi-ai";
import type { Usage } from "./factory-api.ts";

export const ZERO_USAGE: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: 0 };

export function addUsage(a: Usage, b: Usage): Usage {
	return {
		input: a.input + b.input,
		output: a.output + b.output,
		cacheRead: a.cacheRead + b.cacheRead,
		cacheWrite: a.cacheWrite + b.cacheWrite,
		cost: a.cost + b.cost,
	};
}

/** The summed usage of the assistant messages among `messages`, and the last of them. */
export function assistantUsage(messages: readonly { role?: string }[]): { usage: Usage; last?: AssistantMessage } {
	let usage = ZERO_USAGE;
	let last: AssistantMessage | undefined;
	for (const m of messages) {
		if (m.role !== "assistant") continue;
		last = m as AssistantMessage;
		const u = last.usage;
		usage = addUsage(usage, { ...u, cost: u.cost.total });
	}
	return { usage, last };
}

/** The text blocks of an answer, joined ("" without one). */
export function answerText(message: AssistantMessage | undefined): string {
	return message ? message.content.flatMap((c) => (c.type === "text" ? [c.text] : [])).join("\n") : "";
}
