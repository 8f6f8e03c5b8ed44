/**
 * The /role command: the roles table, switching the session to a role's
 * model, and restoring the user's own. Loaded on first use (index.ts stays
 * light because pi rebuilds it on every session).
 */
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import { loadConfig } from "../shared/config.ts";
import { notify as say } from "../shared/notify.ts";
import { type ModelLike, resolveRole, roleNames, skippedWarning, UnknownRoleError } from "./roles.ts";
import {
	rememberUserChoice,
	setActiveRole,
	showRoleStatus as showStatus,
	switchNow,
	takeUserChoice,
} from "./switcher.ts";

function label(model: ModelLike | undefined): string {
	return model ? `${model.provider}/${model.id}` : "—";
}

/** The /role table: role, configured spec, resolved model, usable or why not. */
function roleTable(ctx: ExtensionContext): string {
	const roles = loadConfig(ctx.cwd).roles;
	const rows = roleNames(roles).map((name) => {
		const configured = roles[name];
		const spec = configured === undefined ? "(unset)" : Array.isArray(configured) ? configured.join(" → ") : configured;
		const r = resolveRole(name, roles, ctx.modelRegistry);
		const own = r.via === name;
		let usable = r.model ? (own ? "yes" : `via ${r.via}`) : `session model (${label(ctx.model)})`;
		// Commit messages use only a commit (or smol) model of their own; otherwise the plain message stands.
		if (name === "commit" && r.via !== "commit" && r.via !== "smol") usable = "no model: plain commit messages";
		const why = r.skipped.map((s) => `${s.spec}: ${s.why}`).join("; ");
		return [name, spec, label(r.model), usable, why];
	});
	const header = ["role", "configured", "resolved", "usable", "why not"];
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
	const line = (cells: string[]) =>
		cells
			.map((c, i) => c.padEnd(widths[i] as number))
			.join("  ")
			.trimEnd();
	return [line(header), ...rows.map(line)].join("\n");
}

export function roleCompletions(prefix: string): { value: string; label: string }[] | null {
	let names: string[];
	try {
		names = roleNames(loadConfig(process.cwd()).roles);
	} catch {
		names = roleNames({});
	}
	const items = [...names, "restore"].filter((n) => n.startsWith(prefix.trim())).map((n) => ({ value: n, label: n }));
	return items.length > 0 ? items : null;
}

export async function roleCommand(pi: ExtensionAPI, args: string, ctx: ExtensionContext): Promise<void> {
	const name = args.trim();
	try {
		if (name === "") return say(ctx, roleTable(ctx));
		if (name === "restore") {
			const before = takeUserChoice();
			if (!before) return say(ctx, "no role switch to undo: the model is still your own choice");
			await switchNow({ ...before, role: undefined });
			setActiveRole(undefined);
			showStatus(ctx);
			return say(ctx, `restored ${label(before.model)}`);
		}
		const r = resolveRole(name, loadConfig(ctx.cwd).roles, ctx.modelRegistry);
		const warning = skippedWarning(r);
		if (warning) say(ctx, warning, "warning");
		if (!r.model)
			return say(ctx, `role ${name} has no usable model configured; keeping ${label(ctx.model)}`, "warning");
		rememberUserChoice(ctx.model ? { model: ctx.model, thinking: pi.getThinkingLevel() } : undefined);
		const ok = await switchNow({ model: r.model, thinking: r.thinking, role: name });
		if (!ok) return say(ctx, `pi refused ${label(r.model)} (no API key?)`, "error");
		showStatus(ctx);
		say(ctx, `role ${name}: ${label(r.model)}${r.thinking ? ` (thinking ${r.thinking})` : ""}`);
	} catch (error) {
		say(ctx, `role: ${(error as Error).message}`, "error");
		if (!ctx.hasUI) process.exitCode = error instanceof UnknownRoleError ? 2 : 1;
	}
}
