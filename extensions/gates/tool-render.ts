/**
 * pi's own write/edit tools with one addition: in the TUI their result also
 * shows the `[gates]` block appended to it (pi's renderers show a successful
 * write's text not at all). Execution is pi's built-in tool for the
 * session's directory; prompt text and call rendering are pi's too.
 */
import {
	createEditToolDefinition,
	createWriteToolDefinition,
	type ExtensionAPI,
	type Theme,
} from "@mariozechner/pi-coding-agent";
import { Container, Text } from "@mariozechner/pi-tui";

const MARK = "\n\n[gates]\n";

/** The gates block of a tool result's text, or undefined. */
export function gatesBlock(content: readonly { type: string; text?: string }[]): string | undefined {
	for (const c of content) {
		const at = c.type === "text" && c.text ? c.text.indexOf(MARK) : -1;
		if (at >= 0) return (c.text as string).slice(at + 2);
	}
	return undefined;
}

function colorLine(line: string, theme: Theme): string {
	if (/ error( TS\d+)?: |: failed \(|unavailable \(/.test(line)) return theme.fg("error", line);
	if (/ warning( \w+)?: /.test(line)) return theme.fg("warning", line);
	if (/: clean$|formatted on disk/.test(line)) return theme.fg("success", line);
	return theme.fg("dim", line);
}

/**
 * Re-registers write/edit only where pi's own tools are the ones in use:
 * both registered as built-ins (not another extension's or an SDK host's
 * override) and active (so `--no-builtin-tools` or `--tools` lists keep
 * them off — pi leaves the active set as it was when a known name is
 * re-registered).
 */
export function registerGateRenderers(pi: ExtensionAPI, cwd: string): void {
	const builtIns = new Set(
		pi
			.getAllTools()
			.filter((t) => t.sourceInfo?.source === "builtin")
			.map((t) => t.name),
	);
	const active = new Set(pi.getActiveTools());
	if (!["write", "edit"].every((name) => builtIns.has(name) && active.has(name))) return;
	for (const builtIn of [createWriteToolDefinition(cwd), createEditToolDefinition(cwd)] as const) {
		const base = builtIn as unknown as Parameters<ExtensionAPI["registerTool"]>[0];
		pi.registerTool({
			...base,
			// A fresh built-in per call: the session's directory can differ from the one at registration.
			execute: (id, params, signal, onUpdate, ctx) => {
				const tool = (builtIn.name === "write"
					? createWriteToolDefinition(ctx.cwd)
					: createEditToolDefinition(ctx.cwd)) as unknown as typeof base;
				return tool.execute(id, params, signal, onUpdate, ctx);
			},
			renderResult: (result, options, theme, context) => {
				const own =
					base.renderResult?.(result, options, theme, { ...context, lastComponent: undefined }) ?? new Container();
				const block = gatesBlock(result.content);
				if (!block) return own;
				const box = new Container();
				box.addChild(own);
				box.addChild(
					new Text(
						block
							.split("\n")
							.map((l) => colorLine(l, theme))
							.join("\n"),
						0,
						0,
					),
				);
				return box;
			},
		});
	}
}
