/**
 * pi-loop-factory: the /loop command (Ralph loops inside pi).
 *
 * Wiring only: registers /loop with argument completion, the renderer for
 * the loop's progress messages, and a startup hint about interrupted runs.
 * Parsing, the engine, state and rendering live in their own modules.
 */
import { readFileSync } from "node:fs";
import type { ExtensionAPI, ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { Text } from "@mariozechner/pi-tui";
import { completeLoopArgs } from "./completions.ts";
import { intakeToolBlock } from "./intake/intake-guard.ts";
import { type LoopMessageDetails, MESSAGE_TYPE } from "./message.ts";
import { planWriteBlock } from "./plan-guard.ts";

// pi rebuilds every extension on each new session, which a loop does once per
// iteration; the command's modules are therefore loaded on first use only.
const commandModules = () =>
	Promise.all([import("./args.ts"), import("./commands.ts"), import("./lock.ts"), import("./store.ts")]);

type Modules = Awaited<ReturnType<typeof commandModules>>;
type Output = InstanceType<Modules[1]["Output"]>;

function fail([args, commands, lock, store]: Modules, out: Output, error: unknown): void {
	const known = [args.UsageError, commands.CommandError, lock.LockError, store.StateError].some(
		(type) => error instanceof type,
	);
	const message = error instanceof Error ? error.message : String(error);
	out.say(`loop: ${known ? "" : "internal error: "}${message}`, "error");
	out.exit(error instanceof commands.CommandError ? error.exitCode : known ? 2 : 1);
}

async function handle(
	[args, commands]: Modules,
	pi: ExtensionAPI,
	raw: string,
	ctx: ExtensionCommandContext,
	out: Output,
): Promise<void> {
	const {
		HELP_TEXT,
		reportText,
		resumeLoop,
		runBlueprint,
		startIntake,
		startLoop,
		statusText,
		stopLoop,
		worktreesText,
	} = commands;
	const request = args.parseLoopArgs(raw);
	switch (request.kind) {
		case "start":
			return startLoop(pi, ctx, out, request);
		case "run":
			return runBlueprint(pi, ctx, out, request);
		case "intake":
			return startIntake(pi, ctx, out, request);
		case "worktrees":
			return out.say(await worktreesText(ctx.cwd, request.prune));
		case "resume":
			return resumeLoop(pi, ctx, out);
		case "stop":
		case "abort":
			return stopLoop(ctx, out, request.kind);
		case "status":
			return out.say(statusText(ctx.cwd));
		case "help":
			return out.say(HELP_TEXT);
		case "report": {
			const text = reportText(ctx.cwd, request.runId);
			if (out.hasUI)
				pi.sendMessage({ customType: MESSAGE_TYPE, content: text, display: true, details: { kind: "summary" } });
			else process.stderr.write(text);
		}
	}
}

export default function loopExtension(pi: ExtensionAPI): void {
	pi.registerCommand("loop", {
		description: "Ralph loop: run the agent in fresh sessions until a check passes (/loop help)",
		getArgumentCompletions: async (prefix) => {
			const { listRuns, loopPaths } = await import("./store.ts");
			const cwd = process.cwd();
			const blueprints = prefix.startsWith("run ") ? await import("./blueprint/catalog.ts") : undefined;
			const read = (file: string) => readFileSync(file, "utf8");
			return completeLoopArgs(
				prefix,
				() => listRuns(loopPaths(cwd)),
				() => blueprints?.listBlueprints(cwd, read) ?? [],
			);
		},
		handler: async (args, ctx) => {
			const modules = await commandModules();
			const out = new modules[1].Output(ctx);
			try {
				await handle(modules, pi, args, ctx, out);
			} catch (error) {
				fail(modules, out, error);
			}
		},
	});

	pi.registerMessageRenderer<LoopMessageDetails>(MESSAGE_TYPE, (message, { expanded }, theme) => {
		const content = typeof message.content === "string" ? message.content : "";
		const [first = "", ...rest] = content.split("\n");
		const files = message.details?.files ?? [];
		let text = message.details?.kind === "iteration" ? theme.fg("accent", "⟳ ") + first : theme.bold(first);
		if (expanded && rest.length > 0) text += `\n${theme.fg("dim", rest.join("\n"))}`;
		else if (rest.length > 0) text += `\n${rest.slice(0, 3).join("\n")}`;
		if (expanded && files.length > 0) text += `\n${theme.fg("dim", files.join("\n"))}`;
		return new Text(text, 0, 0);
	});

	pi.on(
		"tool_call",
		(event, ctx) =>
			planWriteBlock(ctx.cwd, event.toolName, (event.input as { path?: unknown }).path) ??
			intakeToolBlock(ctx.cwd, event.toolName, event.input as Record<string, unknown>),
	);

	pi.on("session_start", async (event, ctx) => {
		if (event.reason !== "startup" || !ctx.hasUI) return;
		const [, , { isStale, readLock }, { loopPaths, readState }] = await commandModules();
		try {
			const paths = loopPaths(ctx.cwd);
			const state = readState(paths);
			if (state?.status === "running" && isStale(readLock(paths.lock))) {
				ctx.ui.notify(
					`loop run ${state.runId} was interrupted after ${state.history.length} iterations; /loop resume continues it`,
					"warning",
				);
			}
		} catch (error) {
			ctx.ui.notify(`loop: ${(error as Error).message}`, "error");
		}
	});
}
