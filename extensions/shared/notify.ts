/**
 * A short message to the user: a notification where pi has a UI
 * (interactive, RPC), a line on stderr in print/json mode.
 */
import type { ExtensionContext } from "@mariozechner/pi-coding-agent";

export type Level = "info" | "warning" | "error";

export function notify(ctx: ExtensionContext, text: string, level: Level = "info"): void {
	if (ctx.hasUI) ctx.ui.notify(text, level);
	else process.stderr.write(`${text}\n`);
}
