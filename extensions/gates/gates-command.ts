/**
 * `/gates`: list configured and detected gates with their last results,
 * `/gates run [name]` to run them now, `/gates on|off` for this pi process.
 */
import type { ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { notify } from "../shared/notify.ts";
import type { GateResult } from "./messages.ts";
import type { GateRuntime } from "./runtime.ts";

function describeOne(r: GateResult): string {
	if (r.status === "passed") return `✓ ${r.gate}`;
	if (r.status === "failed")
		return `✗ ${r.gate} (exit ${r.exitCode})\n${(r.detail ?? "").trim().split("\n").slice(-15).join("\n")}`;
	if (r.status === "no-tests") return `○ ${r.gate}: none found (${r.detail})`;
	return `? ${r.gate}: ${r.detail}`;
}

function describe(results: GateResult[]): string {
	return results.map(describeOne).join("\n");
}

export async function gatesCommand(args: string, runtime: GateRuntime, ctx: ExtensionCommandContext): Promise<void> {
	const [verb, name, ...rest] = args.trim().split(/\s+/).filter(Boolean);
	if (verb === undefined) {
		const plan = runtime.reload();
		notify(ctx, runtime.report(), plan.configError ? "error" : "info");
		if (plan.configError && !ctx.hasUI) process.exitCode = 2;
		return;
	}
	if ((verb === "on" || verb === "off") && name === undefined) {
		const plan = runtime.reload();
		if (plan.configError) {
			notify(ctx, `gates stay off: ${plan.configError}`, "error");
			return;
		}
		runtime.setOff(verb === "off");
		notify(
			ctx,
			verb === "off"
				? "gates off for this pi session (/gates on to resume)"
				: plan.enabled
					? "gates on"
					: 'gates stay off: the config says "gates.enabled": false',
		);
		return;
	}
	if (verb === "run" && rest.length === 0) {
		const plan = runtime.reload();
		if (plan.configError) {
			notify(ctx, `gates: ${plan.configError}`, "error");
			return;
		}
		const known = plan.gates.filter((g) => name === undefined || g.name === name);
		if (known.length === 0) {
			notify(
				ctx,
				`gates: no gate named "${name}" (known: ${plan.gates.map((g) => g.name).join(", ") || "none"})`,
				"error",
			);
			return;
		}
		const results = await runtime.runNow(name);
		const blocks = known.some((g) => g.languageServer) ? await runtime.diagnoseWritten() : new Map<string, string>();
		const text = [describe(results), ...blocks.values()].filter(Boolean).join("\n\n");
		notify(
			ctx,
			text || "gates: nothing to run yet (on-write gates need files written in this session)",
			results.some((r) => r.status === "failed" || r.status === "unavailable") ? "warning" : "info",
		);
		return;
	}
	notify(
		ctx,
		`gates: unknown arguments "${args.trim()}" — use /gates, /gates run [name], /gates on, /gates off`,
		"error",
	);
}
