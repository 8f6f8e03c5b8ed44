/**
 * One agent run in a fresh in-process pi session (the SDK's createAgentSession):
 * the host's extensions (so gates diagnose its writes), skills, AGENTS.md and
 * tools, an in-memory session, the model handed in. It never replaces or
 * touches the user's session, model or settings, and several run at once.
 */
import { resolve } from "node:path";
import type { Api, Model } from "@mariozechner/pi-ai";
import type { ModelRegistry } from "@mariozechner/pi-coding-agent";
import * as sdk from "@mariozechner/pi-coding-agent";
import { posixRelative } from "../shared/posix-path.ts";
import { answerText, assistantUsage, ZERO_USAGE } from "./agent-messages.ts";
import type { ThinkingLevel, Usage } from "./factory-api.ts";

export interface SpawnHost {
	cwd: string;
	modelRegistry: ModelRegistry;
	/** Extension paths to load besides the installed ones (this package, the host's `-e` paths). */
	extensionPaths: string[];
	/** The host ran with --no-extensions: only extensionPaths load. */
	noExtensions: boolean;
}

export interface AgentRunRequest {
	prompt: string;
	/** Where the agent works (an isolated worktree); default the host's cwd. */
	cwd?: string;
	appendSystemPrompt?: string;
	model?: Model<Api>;
	thinking?: ThinkingLevel;
	tools?: string[];
	timeoutMs: number;
	signal?: AbortSignal;
	/**
	 * Called when the agent has finished normally, with the files changed so far and the follow-ups sent so far:
	 * a text to send into the same session as the next prompt (e.g. a gates fix round), or undefined to end.
	 */
	followUp?(filesChanged: string[], sent: number): Promise<string | undefined>;
}

export interface AgentRunResult {
	status: "ok" | "error" | "aborted" | "timeout";
	text: string;
	error?: string;
	stopReason: string;
	usage: Usage;
	model: string;
	filesChanged: string[];
	durationMs: number;
}

/** The `-e`/`--extension` paths and `--no-extensions` of the pi command line this process runs. */
export function hostExtensionFlags(argv: string[], cwd: string): { paths: string[]; noExtensions: boolean } {
	const paths: string[] = [];
	let noExtensions = false;
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if ((arg === "-e" || arg === "--extension") && argv[i + 1] !== undefined)
			paths.push(resolve(cwd, argv[++i] as string));
		else if (arg === "--no-extensions" || arg === "-ne") noExtensions = true;
	}
	return { paths, noExtensions };
}

const WRITE_TOOLS = new Set(["write", "edit"]);

/** The fresh session: this process's model registry, the host's extensions, an in-memory session manager. */
async function createSession(host: SpawnHost, request: AgentRunRequest): Promise<sdk.AgentSession> {
	const cwd = request.cwd ?? host.cwd;
	const agentDir = sdk.getAgentDir();
	const settingsManager = sdk.SettingsManager.create(cwd, agentDir);
	const extra = request.appendSystemPrompt;
	const loader = new sdk.DefaultResourceLoader({
		cwd,
		agentDir,
		settingsManager,
		noExtensions: host.noExtensions,
		additionalExtensionPaths: host.extensionPaths,
		...(extra ? { appendSystemPromptOverride: (base: string[]) => [...base, extra] } : {}),
	});
	await loader.reload();
	const { session } = await sdk.createAgentSession({
		cwd,
		agentDir,
		model: request.model,
		thinkingLevel: request.thinking,
		modelRegistry: host.modelRegistry,
		// pi 1.x: providers registered by extensions live in the registry's runtime (private in 0.73's types).
		...({ modelRuntime: (host.modelRegistry as unknown as { runtime?: unknown }).runtime } as object),
		resourceLoader: loader,
		sessionManager: sdk.SessionManager.inMemory(cwd),
		settingsManager,
		...(request.tools ? { tools: request.tools } : {}),
	});
	return session;
}

export async function runAgentSession(host: SpawnHost, request: AgentRunRequest): Promise<AgentRunResult> {
	const started = Date.now();
	const fail = (status: AgentRunResult["status"], error: string): AgentRunResult => ({
		status,
		text: "",
		error,
		stopReason: status === "timeout" ? "timeout" : status === "aborted" ? "aborted" : "error",
		usage: { ...ZERO_USAGE },
		model: request.model ? `${request.model.provider}/${request.model.id}` : "",
		filesChanged: [],
		durationMs: Date.now() - started,
	});
	if (request.signal?.aborted) return fail("aborted", "aborted before the agent started");
	let session: sdk.AgentSession;
	try {
		session = await createSession(host, request);
	} catch (error) {
		// No model at all, a settings file that does not parse, …: this spawn fails, the script decides what next.
		return fail("error", `could not start the agent session: ${(error as Error).message}`);
	}
	const cwd = request.cwd ?? host.cwd;
	// Paths of write/edit calls that succeeded (start events carry the arguments, end events the outcome).
	const pathOfCall = new Map<string, string>();
	const written = new Set<string>();
	const unsubscribe = session.subscribe((event) => {
		if (event.type === "tool_execution_start" && WRITE_TOOLS.has(event.toolName)) {
			const path = (event.args as { path?: unknown } | undefined)?.path;
			if (typeof path === "string") pathOfCall.set(event.toolCallId, path);
		} else if (event.type === "tool_execution_end" && !event.isError) {
			const path = pathOfCall.get(event.toolCallId);
			if (path !== undefined) written.add(posixRelative(cwd, resolve(cwd, path)));
		}
	});
	let timedOut = false;
	let failure: string | undefined;
	const abort = () => void session.abort();
	request.signal?.addEventListener("abort", abort, { once: true });
	// An abort while the session was being made (extensions loading) happened before the listener existed.
	if (request.signal?.aborted) abort();
	const timer = setTimeout(() => {
		timedOut = true;
		abort();
	}, request.timeoutMs);
	try {
		try {
			let prompt: string | undefined = request.prompt;
			for (let sent = 0; prompt !== undefined; sent++) {
				await session.prompt(prompt);
				await session.agent.waitForIdle();
				const last = assistantUsage(session.messages).last;
				const finished = last?.stopReason !== "error" && last?.stopReason !== "aborted";
				prompt =
					finished && !timedOut && request.followUp ? await request.followUp([...written].sort(), sent) : undefined;
			}
		} catch (error) {
			// The turns that did run were paid for: the result below still counts their usage.
			if (!timedOut && !request.signal?.aborted) failure = (error as Error).message;
		} finally {
			clearTimeout(timer);
			request.signal?.removeEventListener("abort", abort);
			unsubscribe();
		}
		const { usage, last } = assistantUsage(session.messages);
		const text = answerText(last);
		const base = {
			text,
			usage,
			model: last ? `${last.provider}/${last.model}` : "",
			filesChanged: [...written].sort(),
			durationMs: Date.now() - started,
		};
		if (timedOut)
			return { ...base, status: "timeout", stopReason: "timeout", error: `timed out after ${request.timeoutMs} ms` };
		if (request.signal?.aborted) return { ...base, status: "aborted", stopReason: "aborted", error: "aborted" };
		if (failure !== undefined) return { ...base, status: "error", stopReason: "error", error: failure };
		if (!last) return { ...base, status: "error", stopReason: "error", error: "the agent produced no response" };
		if (last.stopReason === "error" || last.stopReason === "aborted")
			return {
				...base,
				status: last.stopReason,
				stopReason: last.stopReason,
				error: last.errorMessage ?? "model error",
			};
		return { ...base, status: "ok", stopReason: last.stopReason };
	} finally {
		session.dispose();
	}
}
