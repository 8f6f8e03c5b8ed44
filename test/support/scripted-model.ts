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
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
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

/** One scripted model response. */
export type ScriptStep =
	| { text: string }
	| { write: { path: string; content: string }; text?: string }
	/** Several writes in one assistant message (pi runs them as parallel tool calls). */
	| { writes: { path: string; content: string }[] }
	| { edit: { path: string; oldText: string; newText: string } }
	| { bash: string }
	| { error: string }
	| { hang: true };

export interface Script {
	steps: ScriptStep[];
	/** Served once the steps run out; without it an exhausted script is a model error. */
	fallback?: ScriptStep;
	/** Cost in dollars charged per request (faux usage has no cost of its own). */
	costPerCall?: number;
}

/** What the log records of each request. */
export interface LoggedRequest {
	call: number;
	model: string;
	systemPrompt: string;
	messages: { role: string; text: string }[];
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

function loggedCalls(logPath: string): number {
	if (!existsSync(logPath)) return 0;
	return readFileSync(logPath, "utf8")
		.split("\n")
		.filter((line) => line.trim() !== "").length;
}

function waitForAbort(signal: AbortSignal | undefined): Promise<void> {
	return new Promise((resolve) => {
		if (!signal) return;
		if (signal.aborted) return resolve();
		signal.addEventListener("abort", () => resolve(), { once: true });
	});
}

async function respond(step: ScriptStep | undefined, signal: AbortSignal | undefined): Promise<AssistantMessage> {
	if (!step) return fauxAssistantMessage("", { stopReason: "error", errorMessage: "scripted model: script exhausted" });
	if ("error" in step) return fauxAssistantMessage("", { stopReason: "error", errorMessage: step.error });
	if ("hang" in step) {
		await waitForAbort(signal);
		return fauxAssistantMessage("", { stopReason: "aborted", errorMessage: "aborted" });
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
	const step = async (
		context: Context,
		options: { signal?: AbortSignal } | undefined,
		_state: unknown,
		model: { id: string },
	) => {
		faux.appendResponses([step]);
		const call = loggedCalls(logPath);
		const entry: LoggedRequest = {
			call,
			model: model.id,
			systemPrompt: context.systemPrompt || currentSystemPrompt?.(context.messages) || "",
			messages: context.messages.map((m) => ({ role: m.role, text: messageText(m) })),
		};
		appendFileSync(logPath, `${JSON.stringify(entry)}\n`);
		return respond(script.steps[call] ?? script.fallback, options?.signal);
	};
	faux.setResponses([step]);

	// Handing pi the stream function lets it re-register the API when it
	// refreshes its model registry (interactive mode does on session changes).
	const registered = getApiProvider(faux.api);
	pi.registerProvider("faux", {
		baseUrl: "http://localhost:0",
		apiKey: "LOOP_FAUX_KEY",
		api: faux.api,
		streamSimple: registered?.streamSimple,
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
