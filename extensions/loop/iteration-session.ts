/**
 * Runs one loop iteration in a fresh pi session (ctx.newSession with the
 * origin session as parent) and reports what the agent did. pi rebuilds the
 * extension on every new session and the old command ctx goes stale, so the
 * context handed to withSession is kept and used for everything after.
 */
import { existsSync, readFileSync } from "node:fs";
import type { AssistantMessage } from "@mariozechner/pi-ai";
import type { ExtensionCommandContext, SessionEntry } from "@mariozechner/pi-coding-agent";
import { answerText, assistantUsage } from "../core/agent-messages.ts";
import { type ModelChoice, setPendingForNextSession, takePending } from "../roles/switcher.ts";
import { type AgentHooks, type AgentOutcome, agentError } from "./engine.ts";
import { type Usage, ZERO_USAGE } from "./types.ts";

type NewSessionOptions = NonNullable<Parameters<ExtensionCommandContext["newSession"]>[0]>;
export type ReplacedSessionContext = Parameters<NonNullable<NewSessionOptions["withSession"]>>[0];
type SessionManagerLike = Parameters<NonNullable<NewSessionOptions["setup"]>>[0];

function isAssistant(entry: SessionEntry): entry is SessionEntry & { type: "message"; message: AssistantMessage } {
	return entry.type === "message" && entry.message.role === "assistant";
}

/** Usage, final text and error state of the agent run recorded in a session branch. */
export function outcomeFromEntries(entries: SessionEntry[], sessionFile?: string): AgentOutcome {
	const { usage, last } = assistantUsage(entries.filter(isAssistant).map((e) => e.message));
	const text = answerText(last);
	if (!last) return { status: "error", error: "the agent produced no response", text, usage, sessionFile };
	const model = `${last.provider}/${last.model}`;
	if (last.stopReason === "error")
		return { status: "error", error: last.errorMessage ?? "model error", text, usage, sessionFile, model };
	if (last.stopReason === "aborted")
		return { status: "aborted", error: last.errorMessage, text, usage, sessionFile, model };
	return { status: "ok", text, usage, sessionFile, model };
}

/** Usage recorded in a session file (JSONL), e.g. of an iteration cut off by a crash; unreadable → zero. */
export function usageFromSessionFile(file: string): Usage {
	try {
		const entries = readFileSync(file, "utf8")
			.split("\n")
			.filter((line) => line.trim() !== "")
			.map((line) => JSON.parse(line) as SessionEntry);
		return outcomeFromEntries(entries).usage;
	} catch {
		return { ...ZERO_USAGE };
	}
}

/**
 * pi 0.73.1 gives a session created from a --no-session origin a session
 * directory of "", so its file would land in the project directory. Loop
 * iterations of such an origin stay in memory instead.
 */
function keepInMemory(sm: SessionManagerLike): void {
	(sm as unknown as { persist: boolean }).persist = false;
}

export class IterationSessions {
	private ctx: ExtensionCommandContext;
	private replaced: ReplacedSessionContext | undefined;
	private readonly parentSession: string | undefined;
	private readonly persist: boolean;

	/** onContext sees every new iteration context as soon as it exists. */
	constructor(
		origin: ExtensionCommandContext,
		private readonly onContext: (ctx: ExtensionCommandContext) => void = () => undefined,
	) {
		this.ctx = origin;
		const originFile = origin.sessionManager.getSessionFile();
		// An in-memory (--no-session) origin has no session file.
		this.persist = originFile !== undefined;
		// pi writes a session file only once it holds an assistant message; an empty origin
		// (e.g. `pi -p "/loop …"`) has none on disk, so there is no parent to point to.
		this.parentSession = originFile !== undefined && existsSync(originFile) ? originFile : undefined;
	}

	/** The live context: the latest iteration's, or the origin one before the first iteration. */
	get current(): ExtensionCommandContext {
		return this.ctx;
	}

	/** The latest iteration's context, which can also post messages into its session. */
	get replacedContext(): ReplacedSessionContext | undefined {
		return this.replaced;
	}

	get originSession(): string | undefined {
		return this.parentSession;
	}

	/**
	 * Runs the prompt in a new session. An aborted signal stops the agent
	 * (or keeps it from starting); hooks learn the new session's file and
	 * may hold the prompt back until they are ready.
	 */
	async run(prompt: string, signal: AbortSignal, hooks: AgentHooks, model?: ModelChoice): Promise<AgentOutcome> {
		const aborted: AgentOutcome = {
			status: "aborted",
			error: "aborted before the agent started",
			text: "",
			usage: { ...ZERO_USAGE },
		};
		if (signal.aborted) {
			await hooks.beforePrompt();
			return aborted;
		}
		let outcome: AgentOutcome | undefined;
		// The roles extension instance of the new session applies the model (see roles/switcher.ts).
		setPendingForNextSession(model);
		let result: { cancelled: boolean };
		try {
			result = await this.ctx.newSession({
				parentSession: this.parentSession,
				setup: this.persist ? undefined : async (sm) => keepInMemory(sm),
				withSession: async (next) => {
					this.ctx = next;
					this.replaced = next;
					this.onContext(next);
					const sm = next.sessionManager;
					hooks.onSession(this.persist ? sm.getSessionFile() : undefined);
					await hooks.beforePrompt();
					if (signal.aborted) {
						outcome = aborted;
						return;
					}
					const stop = () => next.abort();
					signal.addEventListener("abort", stop, { once: true });
					try {
						await next.sendUserMessage(prompt);
						await next.waitForIdle();
					} catch (error) {
						outcome = agentError((error as Error).message);
						return;
					} finally {
						signal.removeEventListener("abort", stop);
					}
					outcome = outcomeFromEntries(sm.getBranch(), this.persist ? sm.getSessionFile() : undefined);
				},
			});
		} finally {
			takePending(); // unused when the roles extension is not loaded; it must never reach a later session
		}
		if (result.cancelled) throw new Error("another extension cancelled the iteration's new session");
		if (!outcome) throw new Error("the iteration session ended before the agent ran");
		return outcome;
	}
}
