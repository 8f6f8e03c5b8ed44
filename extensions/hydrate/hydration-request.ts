/**
 * How a loop asks for context hydration of its next iteration: the engine
 * leaves the task (and failures) for one exact prompt in this pi process's
 * memory; the hydrate extension, rebuilt in the iteration's new session,
 * takes it in before_agent_start. Nothing is written to the project.
 */
import { createHash } from "node:crypto";
import { processWide } from "../shared/process-wide.ts";

export interface HydrationRequest {
	task: string;
	failures?: string;
}

/** The pending request per project (one loop per project, so one at a time), with its prompt's hash. */
const pending = () =>
	processWide("hydration-requests", () => new Map<string, HydrationRequest & { promptHash: string }>());

function hashPrompt(prompt: string): string {
	return createHash("sha256").update(prompt).digest("hex");
}

export function requestHydration(cwd: string, prompt: string, task: string, failures?: string): void {
	pending().set(cwd, { promptHash: hashPrompt(prompt), task, failures });
}

/** The request for exactly this prompt in this project, removed once taken; otherwise undefined. */
export function takeHydrationRequest(cwd: string, prompt: string): HydrationRequest | undefined {
	const request = pending().get(cwd);
	if (!request || request.promptHash !== hashPrompt(prompt)) return undefined;
	pending().delete(cwd);
	return { task: request.task, failures: request.failures };
}
