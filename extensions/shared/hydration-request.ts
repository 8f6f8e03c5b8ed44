/**
 * How a loop asks for context hydration of its next iteration: the engine
 * writes the task (and failures) for one exact prompt; the hydrate extension,
 * rebuilt in the iteration's new session, consumes it in before_agent_start.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface HydrationRequest {
	pid: number;
	promptHash: string;
	task: string;
	failures?: string;
}

function requestFile(cwd: string): string {
	return join(cwd, ".pi", "loop", "hydrate-request.json");
}

function hashPrompt(prompt: string): string {
	return createHash("sha256").update(prompt).digest("hex");
}

export function requestHydration(cwd: string, prompt: string, task: string, failures?: string): void {
	const file = requestFile(cwd);
	mkdirSync(dirname(file), { recursive: true });
	const request: HydrationRequest = { pid: process.pid, promptHash: hashPrompt(prompt), task, failures };
	writeFileSync(file, JSON.stringify(request));
}

/** The request for exactly this prompt from this process, removed once read; otherwise undefined. */
export function takeHydrationRequest(cwd: string, prompt: string): HydrationRequest | undefined {
	const file = requestFile(cwd);
	let request: HydrationRequest;
	try {
		request = JSON.parse(readFileSync(file, "utf8")) as HydrationRequest;
	} catch {
		return undefined;
	}
	if (request.pid !== process.pid || request.promptHash !== hashPrompt(prompt)) return undefined;
	rmSync(file, { force: true });
	return request;
}
