/**
 * pi-loop-factory: model-role routing.
 *
 * Wiring only: `/role` (table, switch, restore) with completion, the footer
 * status naming the active role, and — on every session start — registering
 * this instance as the live model switcher and applying a model a loop asked
 * for the session it just created (see switcher.ts). The /role command's
 * code is loaded on first use: pi rebuilds this file on every session.
 */
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";
import { type ModelChoice, registerSwitcher, showRoleStatus, switchNow, takePending } from "./switcher.ts";

export default function rolesExtension(pi: ExtensionAPI): void {
	pi.on("session_start", async (_event, ctx) => {
		registerSwitcher({
			apply: async (choice: ModelChoice) => {
				const ok = await pi.setModel(choice.model);
				if (ok && choice.thinking) pi.setThinkingLevel(choice.thinking);
				return ok;
			},
		});
		const pending = takePending();
		if (pending) await switchNow(pending);
		showRoleStatus(ctx);
	});

	pi.registerCommand("role", {
		description: "Model roles: /role (table), /role <name> (switch), /role restore",
		getArgumentCompletions: async (prefix) => (await import("./role-command.ts")).roleCompletions(prefix),
		handler: async (args, ctx) => (await import("./role-command.ts")).roleCommand(pi, args, ctx),
	});
}
