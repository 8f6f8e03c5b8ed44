/**
 * Interactive mode only: between agent runs (while a check or snapshot runs)
 * pi's editor drops submitted text because the /loop command is still
 * executing. This listener catches `/loop stop|abort|status` submitted then,
 * so the user can always reach a running loop. While the agent works, pi
 * itself dispatches those commands (and Esc aborts the iteration).
 */
import type { ExtensionContext } from "@mariozechner/pi-coding-agent";
import { matchesKey } from "@mariozechner/pi-tui";

const CONTROL = /^\/loop\s+(stop|abort|status)\s*$/;

export type IdleCommand = "stop" | "abort" | "status";

/** The loop subcommand an editor text asks for, if it is one this listener handles. */
export function idleCommand(text: string): IdleCommand | undefined {
	return CONTROL.exec(text.trim())?.[1] as IdleCommand | undefined;
}

/** Listens on each new session's UI (pi drops listeners when a session is replaced). */
export class IdleInput {
	private attached: ExtensionContext | undefined;
	private unsubscribe: (() => void) | undefined;

	constructor(private readonly run: (command: IdleCommand) => void) {}

	attach(ctx: ExtensionContext): void {
		if (!ctx.hasUI || this.attached === ctx) return;
		this.detach();
		this.attached = ctx;
		this.unsubscribe = ctx.ui.onTerminalInput((data) => {
			if (!ctx.isIdle()) return undefined;
			// Enter may arrive alone or at the end of a chunk of typed (or pasted) text.
			const enter = matchesKey(data, "enter") ? 0 : data.indexOf("\r");
			if (enter === -1) return undefined;
			const command = idleCommand(ctx.ui.getEditorText() + data.slice(0, enter));
			if (!command) return undefined;
			ctx.ui.setEditorText("");
			this.run(command);
			return { consume: true };
		});
	}

	/** Stops listening (the loop has ended). */
	detach(): void {
		try {
			this.unsubscribe?.();
		} catch {
			// the session it belonged to is already gone
		}
		this.unsubscribe = undefined;
		this.attached = undefined;
	}
}
