/**
 * Test-only pi extension: a scripted model provider ("faux") backed by
 * registerFauxProvider from @mariozechner/pi-ai.
 *
 * The script is a JSON file named by LOOP_FAUX_SCRIPT. Every model request
 * consumes the next step; the number of requests served so far is the line
 * count of the request log (LOOP_FAUX_LOG), so the script position survives
 * pi rebuilding this extension on every new session and even a restarted
 * process. Each request's full context is appended to the log so tests can
 * assert exactly what the model was sent.
 *
 * Routes serve concurrent sessions (parallel spawns) by who is asking: a
 * request whose first user message contains a route's `match` takes that
 * route's next step, counted the same way (earlier logged requests with that
 * match). A step may answer after `delayMs`; the time it answered goes to a
 * second log, `${LOOP_FAUX_LOG}.ends`, since the request's line is written
 * when it starts.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import * as piAi from "@mariozechner/pi-ai";
import {
	type AssistantMessage,
	type Context,
	fauxAssistantMessage,
	fauxToolCall,
	getApiProvider,
	registerFauxProvider,
} from "@mariozechner/pi-ai";
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";

/** One scripted model response; `delayMs` makes it answer that much later (an abort meanwhile answers aborted). */
export type ScriptStep = (
	| { text: string }
	| { write: { path: string; content: string }; text?: string }
	/** Several writes in one assistant message (pi runs them as parallel tool calls). */
	| { writes: { path: string; content: string }[] }
	| { edit: { path: string; oldText: string; newText: string } }
	| { bash: string }
	| { error: string }
	| { hang: true }
) & { delayMs?: number };

/** Steps for the requests whose first user message contains `match` (one session, or a group of them). */
export interface ScriptRoute {
	match: string;
	steps: ScriptStep[];
	/** Served once this route's steps run out; without it the route's exhausted requests are model errors. */
	fallback?: ScriptStep;
}

export interface Script {
	/** For requests that match no route: position = earlier logged requests that match no route. */
	steps: ScriptStep[];
	/** Served once the steps run out; without it an exhausted script is a model error. */
	fallback?: ScriptStep;
	/** The first route whose `match` the request's first user message contains serves it. */
	routes?: ScriptRoute[];
	/** Delay before every answer, unless the step sets its own `delayMs`. */
	delayMs?: number;
	/** Cost in dollars charged per request (faux usage has no cost of its own). */
	costPerCall?: number;
}

/** What the log records of each request. */
export interface LoggedRequest {
	/** Requests logged before this one (all routes). */
	call: number;
	model: string;
	systemPrompt: string;
	messages: { role: string; text: string }[];
	/** The `match` of the route that served it; undefined for the global steps. */
	route?: string;
	/** Epoch ms when the request arrived (when it was answered: `${LOOP_FAUX_LOG}.ends`, `requestTimes(fx)`). */
	startedAt: number;
}

/** A line of `${LOOP_FAUX_LOG}.ends`: when request `call` was answered (after its delay), epoch ms. */
export interface LoggedEnd {
	call: number;
	endedAt: number;
}

function messageText(message: Context["messages"][number]): string {
	if (typeof message.content === "string") return message.content;
	return message.content
		.map((block) => {
			if (block.type === "text") return block.text;
			if (block.type === "toolCall") return `[tool ${block.name} ${JSON.stringify(block.arguments)}]`;
			if (block.type === "thinking") return block.thinking;
			return `[${block.type}]`;
		})
		.join("\n");
}

/**
 * pi 1.x hands providers the system prompt as system-role messages (the leading one, then changes), read back with
 * pi-ai's getCurrentSystemPrompt; pi 0.73 sets `context.systemPrompt` and has no such function.
 */
type SystemPromptOf = (messages: readonly { role: string }[]) => string;
const currentSystemPrompt = (piAi as unknown as { getCurrentSystemPrompt?: SystemPromptOf }).getCurrentSystemPrompt;

function loggedLines(logPath: string): string[] {
	if (!existsSync(logPath)) return [];
	return readFileSync(logPath, "utf8")
		.split("\n")
		.filter((line) => line.trim() !== "");
}

/** The text of the first user message: what routes match on (a session's first prompt stays first). */
export function firstUserText(messages: readonly { role: string; text: string }[]): string {
	return messages.find((m) => m.role === "user")?.text ?? "";
}

function routeOf(script: Script, messages: readonly { role: string; text: string }[]): ScriptRoute | undefined {
	const first = firstUserText(messages);
	return script.routes?.find((route) => first.includes(route.match));
}

/**
 * The step for a request: its route's next one, else the global steps' next one. Positions count the earlier logged
 * requests that went (by the current script's routes) the same way; without routes, the log's line count.
 */
function pick(script: Script, earlier: string[], route: ScriptRoute | undefined): ScriptStep | undefined {
	const same = (line: string) => routeOf(script, (JSON.parse(line) as LoggedRequest).messages) === route;
	const position = script.routes?.length ? earlier.filter(same).length : earlier.length;
	const steps = route ? route.steps : script.steps;
	return steps[position] ?? (route ? route.fallback : script.fallback);
}

function aborted(): AssistantMessage {
	return fauxAssistantMessage("", { stopReason: "aborted", errorMessage: "aborted" });
}

function waitForAbort(signal: AbortSignal | undefined): Promise<void> {
	return new Promise((resolve) => {
		if (!signal) return;
		if (signal.aborted) return resolve();
		signal.addEventListener("abort", () => resolve(), { once: true });
	});
}

/** Waits `ms`; false when the signal aborted first. */
async function delay(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
	if (signal?.aborted) return false;
	try {
		await sleep(ms, undefined, { signal });
		return true;
	} catch {
		return false;
	}
}

async function respond(
	step: ScriptStep | undefined,
	delayMs: number,
	signal: AbortSignal | undefined,
): Promise<AssistantMessage> {
	if (delayMs > 0 && !(await delay(delayMs, signal))) return aborted();
	if (!step) return fauxAssistantMessage("", { stopReason: "error", errorMessage: "scripted model: script exhausted" });
	if ("error" in step) return fauxAssistantMessage("", { stopReason: "error", errorMessage: step.error });
	if ("hang" in step) {
		await waitForAbort(signal);
		return aborted();
	}
	if ("write" in step) {
		const call = fauxToolCall("write", { path: step.write.path, content: step.write.content });
		return fauxAssistantMessage(step.text ? [{ type: "text", text: step.text }, call] : call, {
			stopReason: "toolUse",
		});
	}
	if ("writes" in step)
		return fauxAssistantMessage(
			step.writes.map((w) => fauxToolCall("write", { path: w.path, content: w.content })),
			{ stopReason: "toolUse" },
		);
	if ("edit" in step) {
		const { path, oldText, newText } = step.edit;
		return fauxAssistantMessage(fauxToolCall("edit", { path, edits: [{ oldText, newText }] }), {
			stopReason: "toolUse",
		});
	}
	if ("bash" in step)
		return fauxAssistantMessage(fauxToolCall("bash", { command: step.bash }), { stopReason: "toolUse" });
	return fauxAssistantMessage(step.text);
}

export default function scriptedModel(pi: ExtensionAPI): void {
	const scriptPath = process.env.LOOP_FAUX_SCRIPT;
	const logPath = process.env.LOOP_FAUX_LOG;
	if (!scriptPath || !logPath) throw new Error("scripted model: set LOOP_FAUX_SCRIPT and LOOP_FAUX_LOG");
	const script = JSON.parse(readFileSync(scriptPath, "utf8")) as Script;
	const modelIds = (process.env.LOOP_FAUX_MODELS ?? "faux-1").split(",");

	const faux = registerFauxProvider({
		api: "loop-faux",
		provider: "faux",
		models: modelIds.map((id) => ({ id, reasoning: false })),
		// Whole responses in one chunk: an instant model, so tests and benchmarks time the harness.
		tokenSize: { min: 100_000, max: 100_000 },
	});
	// The faux provider takes one queued response per request, synchronously; every response is this same function,
	// so the queue only must never run dry, also for requests arriving in the same tick (concurrent sessions).
	const topUp = () => {
		if (faux.getPendingResponseCount() === 0) faux.appendResponses([step]);
	};
	const step = async (
		context: Context,
		options: { signal?: AbortSignal } | undefined,
		_state: unknown,
		model: { id: string },
	) => {
		topUp();
		const startedAt = Date.now();
		const messages = context.messages.map((m) => ({ role: m.role, text: messageText(m) }));
		const route = routeOf(script, messages);
		// Read, pick and append with no await between: concurrent requests in this process each get their own slot.
		const earlier = loggedLines(logPath);
		const chosen = pick(script, earlier, route);
		const entry: LoggedRequest = {
			call: earlier.length,
			model: model.id,
			systemPrompt: context.systemPrompt || currentSystemPrompt?.(context.messages) || "",
			messages,
			route: route?.match,
			startedAt,
		};
		appendFileSync(logPath, `${JSON.stringify(entry)}\n`);
		const answer = await respond(chosen, chosen?.delayMs ?? script.delayMs ?? 0, options?.signal);
		const end: LoggedEnd = { call: entry.call, endedAt: Date.now() };
		appendFileSync(`${logPath}.ends`, `${JSON.stringify(end)}\n`);
		return answer;
	};
	faux.setResponses([step]);

	// Handing pi the stream function lets it re-register the API when it
	// refreshes its model registry (interactive mode does on session changes).
	const registered = getApiProvider(faux.api);
	const streamSimple = registered?.streamSimple;
	pi.registerProvider("faux", {
		baseUrl: "http://localhost:0",
		apiKey: "LOOP_FAUX_KEY",
		api: faux.api,
		streamSimple:
			streamSimple &&
			((...args: Parameters<typeof streamSimple>) => {
				topUp();
				return streamSimple(...args);
			}),
		models: faux.models.map((m) => ({
			id: m.id,
			name: m.name,
			reasoning: false,
			input: ["text"],
			cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
			contextWindow: m.contextWindow,
			maxTokens: m.maxTokens,
		})),
	});

	// A provider whose models exist but have no credentials (for "no API key" fallbacks).
	const locked = process.env.LOOP_FAUX_LOCKED_MODELS;
	if (locked) {
		pi.registerProvider("faux-locked", {
			baseUrl: "http://localhost:0",
			api: faux.api,
			oauth: {
				name: "Locked test provider",
				login: async () => {
					throw new Error("scripted model: no login for the locked provider");
				},
				refreshToken: async (credentials) => credentials,
				getApiKey: (credentials) => credentials.access,
			},
			models: locked.split(",").map((id) => ({
				id,
				name: id,
				reasoning: false,
				input: ["text"],
				cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
				contextWindow: 128000,
				maxTokens: 16384,
			})),
		});
	}

	if (script.costPerCall) {
		const cost = script.costPerCall;
		pi.on("message_end", (event) => {
			if (event.message.role !== "assistant") return;
			const usage = event.message.usage;
			return { message: { ...event.message, usage: { ...usage, cost: { ...usage.cost, total: cost } } } };
		});
	}
}
