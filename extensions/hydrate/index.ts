/**
 * pi-loop-factory: context hydration from specs.
 *
 * Wiring only: every loop iteration that asks for it, and every prompt while
 * `/hydrate on`, gets one custom message with the context its task needs
 * (see hydrator.ts). `/hydrate <text>` previews what would be injected.
 */
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import { Text } from "@mariozechner/pi-tui";
import { notify as say } from "../shared/notify.ts";
import { processWide } from "../shared/process-wide.ts";
import { provideService } from "../shared/services.ts";
import { requestHydration, takeHydrationRequest } from "./hydration-request.ts";

const MESSAGE_TYPE = "loop-context";
const MODE_ENTRY = "loop-hydrate-mode";

interface ContextDetails {
	summary: string[];
	tokens: number;
	budget: number;
}

// pi rebuilds extensions on every new session (each loop iteration): the hydrator, the index and
// the config schema are loaded only when context is first built, then shared by later instances.
const hydrationModules = () =>
	processWide("hydration-modules", () =>
		Promise.all([import("../shared/config.ts"), import("./hydrator.ts"), import("./spec-index.ts")]),
	);

async function build(cwd: string, task: string, failures?: string, loadedContextFiles?: string[], budget?: number) {
	const [{ loadConfig }, { hydrate, renderHydration, summarizeHydration }, { sharedSpecIndex }] =
		await hydrationModules();
	const loaded = loadConfig(cwd);
	const config = budget === undefined ? loaded : { ...loaded, hydration: { ...loaded.hydration, budget } };
	const h = hydrate({
		task,
		failures,
		cwd,
		config,
		index: sharedSpecIndex(cwd, config.paths.specs),
		loadedContextFiles,
	});
	return { h, text: renderHydration(h), summary: summarizeHydration(h) };
}

/** Whether /hydrate on is in effect for this session (the last mode entry wins). */
function sessionMode(ctx: ExtensionContext): boolean {
	let on = false;
	for (const entry of ctx.sessionManager.getBranch()) {
		if (entry.type === "custom" && entry.customType === MODE_ENTRY)
			on = (entry.data as { on?: boolean } | undefined)?.on === true;
	}
	return on;
}

export default function hydrateExtension(pi: ExtensionAPI): void {
	provideService("hydration", {
		request: requestHydration,
		block: async (cwd, task, budget) => (await build(cwd, task, undefined, undefined, budget)).text,
	});
	pi.registerCommand("hydrate", {
		description: "Context from specs: /hydrate on|off, or /hydrate <task> to preview what would be injected",
		getArgumentCompletions: (prefix) => {
			const items = ["on", "off"].filter((s) => s.startsWith(prefix)).map((s) => ({ value: s, label: s }));
			return items.length > 0 ? items : null;
		},
		handler: async (args, ctx) => {
			const text = args.trim();
			try {
				if (text === "on" || text === "off") {
					// a broken config is reported now, not at the next prompt
					(await import("../shared/config.ts")).loadConfig(ctx.cwd);
					pi.appendEntry(MODE_ENTRY, { on: text === "on" });
					say(ctx, text === "on" ? "hydration on: each prompt gets context from specs" : "hydration off");
					return;
				}
				if (text === "") {
					say(ctx, `hydration is ${sessionMode(ctx) ? "on" : "off"} — /hydrate on|off, or /hydrate <task> to preview`);
					return;
				}
				const { h, text: block, summary } = await build(ctx.cwd, text);
				if (ctx.hasUI) {
					pi.sendMessage<ContextDetails>({
						customType: MESSAGE_TYPE,
						content: block,
						display: true,
						details: { summary, tokens: h.tokens, budget: h.budget },
					});
				} else {
					process.stderr.write(`${summary.join("\n")}\n\n${block}\n`);
				}
			} catch (error) {
				say(ctx, `hydrate: ${(error as Error).message}`, "error");
				if (!ctx.hasUI) process.exitCode = error instanceof (await import("../shared/config.ts")).ConfigError ? 2 : 1;
			}
		},
	});

	pi.on("before_agent_start", async (event, ctx) => {
		const request = takeHydrationRequest(ctx.cwd, event.prompt);
		if (!request && !sessionMode(ctx)) return;
		const loaded = event.systemPromptOptions.contextFiles?.map((f) => f.path);
		try {
			const { h, text, summary } = await build(ctx.cwd, request?.task ?? event.prompt, request?.failures, loaded);
			if (h.pieces.every((p) => p.kind === "task")) return; // nothing beyond what the prompt already says
			return {
				message: {
					customType: MESSAGE_TYPE,
					content: text,
					display: true,
					details: { summary, tokens: h.tokens, budget: h.budget },
				},
			};
		} catch (error) {
			say(ctx, `hydrate: ${(error as Error).message}`, "error");
			return;
		}
	});

	pi.registerMessageRenderer<ContextDetails>(MESSAGE_TYPE, (message, { expanded }, theme) => {
		const d = message.details;
		const head = `${theme.fg("accent", "📎 ")}context from specs · ${d?.tokens ?? "?"} of ${d?.budget ?? "?"} tokens`;
		if (!expanded) return new Text(`${head}\n${theme.fg("dim", (d?.summary ?? []).slice(0, 6).join("\n"))}`, 0, 0);
		const body = typeof message.content === "string" ? message.content : "";
		return new Text(`${head}\n${theme.fg("dim", (d?.summary ?? []).join("\n"))}\n\n${body}`, 0, 0);
	});
}
