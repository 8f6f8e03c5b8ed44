/**
 * pi-loop-factory: gate-on-write backpressure.
 *
 * Wiring only. Writes to protected paths are refused (tool_call); every
 * write/edit is formatted and diagnosed and the findings are appended to its
 * tool result (tool_result); fast checks follow a turn that changed files
 * (turn_end); the full checks decide "done" with bounded fix rounds
 * (agent_end). `/gates` shows and runs them. The runtime is loaded on the
 * first write, so sessions that never write pay nothing for it.
 */
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import { processWide } from "../shared/process-wide.ts";
import { provideService } from "../shared/services.ts";
import { loopStarted } from "./loop-activity.ts";
import type { GateIO, GateRuntime } from "./runtime.ts";
import { registerGateRenderers } from "./tool-render.ts";

type RuntimeModule = typeof import("./runtime.ts");

const entry = processWide("gates-entry", () => ({
	module: undefined as Promise<RuntimeModule> | undefined,
	loaded: undefined as RuntimeModule | undefined,
	/** Agent runs started (before_agent_start) and whose agent_end was handled: pi hands agent_end over late. */
	runsStarted: 0,
	runsEnded: 0,
}));

/** Until every started agent run's agent_end has reached this extension (bounded). */
async function agentEndsDelivered(): Promise<void> {
	for (let waited = 0; entry.runsEnded < entry.runsStarted && waited < 30_000; waited += 20)
		await new Promise((r) => setTimeout(r, 20));
}

async function load(): Promise<RuntimeModule> {
	entry.module ??= import("./runtime.ts").then((m) => (entry.loaded = m));
	return entry.module;
}

const WRITE_TOOLS = new Set(["write", "edit"]);

function pathOf(input: Record<string, unknown>): string | undefined {
	return typeof input.path === "string" ? input.path : undefined;
}

export default function gatesExtension(pi: ExtensionAPI): void {
	provideService("gates", {
		loopStarted,
		checkDone: async (cwd, changed, round, signal) =>
			(await load()).runtimeFor(cwd).checkDoneForSpawn(changed, round, signal),
		release: async (cwd) => entry.loaded?.releaseRuntime(cwd),
	});
	const io: GateIO = {
		sendUserMessage: (text, deliverAs) => pi.sendUserMessage(text, deliverAs ? { deliverAs } : undefined),
		steer: (text) => pi.sendMessage({ customType: "gates", content: text, display: true }, { deliverAs: "steer" }),
	};

	/** This session's runtime, loading it if needed; the runtime talks back through this instance. */
	const runtime = async (ctx: ExtensionContext): Promise<GateRuntime> => {
		const r = (await load()).runtimeFor(ctx.cwd);
		r.bind(ctx, io);
		return r;
	};
	/** The runtime when a write already loaded it; undefined otherwise (nothing to do yet). */
	const loadedRuntime = (ctx: ExtensionContext, newSession = false): GateRuntime | undefined => {
		const r = entry.loaded?.runtimeFor(ctx.cwd);
		r?.bind(ctx, io, newSession);
		return r;
	};

	pi.registerCommand("gates", {
		description: "Gate-on-write backpressure: /gates (list), /gates run [name], /gates on|off",
		getArgumentCompletions: (prefix) => {
			const items = ["run", "on", "off"].filter((s) => s.startsWith(prefix)).map((s) => ({ value: s, label: s }));
			return items.length > 0 ? items : null;
		},
		handler: async (args, ctx) => (await import("./gates-command.ts")).gatesCommand(args, await runtime(ctx), ctx),
	});

	pi.on("session_start", (_event, ctx) => {
		registerGateRenderers(pi, ctx.cwd);
		loadedRuntime(ctx, true)?.reload(); // config edits take effect from the next session on (and at /gates)
	});

	pi.on("tool_call", async (event, ctx) => {
		const path = pathOf(event.input);
		if (!WRITE_TOOLS.has(event.toolName) || path === undefined) return;
		const reason = (await runtime(ctx)).beforeWrite(event.toolCallId, path);
		return reason ? { block: true, reason } : undefined;
	});

	pi.on("tool_execution_end", (event, ctx) => {
		if (WRITE_TOOLS.has(event.toolName)) loadedRuntime(ctx)?.dropWrite(event.toolCallId);
	});

	pi.on("tool_result", async (event, ctx) => {
		const path = pathOf(event.input);
		if (!WRITE_TOOLS.has(event.toolName) || path === undefined) return;
		const block = await (await runtime(ctx)).afterWrite(event.toolCallId, path, !event.isError);
		return block ? { content: [...event.content, { type: "text", text: `\n\n${block}` }] } : undefined;
	});

	pi.on("turn_end", (event, ctx) => {
		const message = event.message as { role?: string; content?: { type: string }[] };
		const continues = message.role === "assistant" && (message.content ?? []).some((c) => c.type === "toolCall");
		loadedRuntime(ctx)?.turnEnded(continues);
	});

	pi.on("input", (event, ctx) => {
		loadedRuntime(ctx)?.inputSeen(event.text, event.source);
	});

	pi.on("before_agent_start", () => {
		entry.runsStarted++;
	});

	pi.on("agent_start", (_event, ctx) => {
		loadedRuntime(ctx)?.runStarted();
	});

	pi.on("session_before_compact", (_event, ctx) => {
		loadedRuntime(ctx)?.compacting();
	});

	pi.on("agent_end", (event, ctx) => {
		// pi's retries and compaction continue a run without a new before_agent_start: never count past the starts.
		entry.runsEnded = Math.min(entry.runsEnded + 1, entry.runsStarted);
		const last = [...event.messages].reverse().find((m) => m.role === "assistant") as
			| { stopReason?: string }
			| undefined;
		loadedRuntime(ctx)?.agentEnded(last?.stopReason);
	});

	pi.on("session_shutdown", async (event, ctx) => {
		if (event.reason !== "quit") return; // a new session in this process (a loop iteration): keep the server warm
		// Print mode exits right after this event, maybe before pi has delivered agent_end: on-done gates and
		// fix rounds already due run first.
		if (!ctx.hasUI) await agentEndsDelivered();
		const r = loadedRuntime(ctx);
		if (!r) return;
		if (!ctx.hasUI) await r.settled();
		await r.stopServer();
	});
}
