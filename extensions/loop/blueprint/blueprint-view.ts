/**
 * Where a blueprint run's progress goes: stderr lines without a UI; widget,
 * footer status and notifications with one (interactive, RPC); the summary
 * as a loop message at the end.
 */
import type { ExtensionAPI, ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import type { LoopEvent } from "../events.ts";
import { MESSAGE_TYPE } from "../message.ts";
import type { BlueprintState, LoopState } from "../types.ts";
import { formatCost } from "../view.ts";
import { execLine, spawnLine } from "./blueprint-report.ts";
import type { RunOutput } from "./run-blueprint.ts";

const UI_KEY = "loop";

/** Progress: stderr lines without a UI; widget, status and notifications with one (interactive, RPC). */
export function blueprintView(pi: ExtensionAPI, ctx: ExtensionCommandContext, out: RunOutput, state: LoopState) {
	const b = state.blueprint as BlueprintState;
	const running = new Map<number, string>();
	const log = (line: string) => process.stderr.write(`[loop] ${line}\n`);
	const refresh = () => {
		if (!ctx.hasUI) return;
		try {
			const cost = b.spawns.reduce((sum, s) => sum + s.usage.cost, 0);
			const lines = [
				`blueprint ${b.file}${b.phases.length > 0 ? ` · ${b.phases.at(-1)}` : ""}`,
				`spawns ${b.spawns.length} done · ${running.size} running · ${formatCost(cost)}`,
				...[...running.values()].map((r) => `  ⟳ ${r}`),
			];
			ctx.ui.setWidget(UI_KEY, lines);
			ctx.ui.setStatus(UI_KEY, `⟳ blueprint · ${b.spawns.length} spawns · ${formatCost(cost)}`);
		} catch {
			// the UI is gone (pi is shutting down)
		}
	};
	return {
		onEvent(e: LoopEvent) {
			switch (e.type) {
				case "spawn_start":
					running.set(
						e.position,
						`${e.agent}${e.step !== undefined ? ` #${e.step}` : ""} (${e.model || "session model"})`,
					);
					if (!ctx.hasUI)
						log(`step ${e.position + 1}: spawn ${e.agent} started on ${e.model || "the session's model"}`);
					break;
				case "spawn_end": {
					running.delete(e.position);
					const record = b.spawns.find((s) => s.position === e.position);
					if (!ctx.hasUI && record) log(spawnLine(record));
					break;
				}
				case "exec": {
					const record = b.execs.find((x) => x.position === e.position);
					if (!ctx.hasUI && record) log(execLine(record));
					break;
				}
				case "log":
					if (!ctx.hasUI) log(`${e.level}: ${e.message}${e.data === undefined ? "" : ` ${JSON.stringify(e.data)}`}`);
					else if (e.level === "warning" || e.level === "error") out.say(e.message, e.level);
					break;
				case "phase":
					if (!ctx.hasUI) log(`phase: ${e.title}`);
					break;
				case "replayed":
					out.say(`loop: replayed ${e.steps} finished steps from the journal; step ${e.position + 1} on runs live`);
					break;
			}
			refresh();
		},
		async onEnd(summary: string, ok: boolean, reportPath: string) {
			if (ctx.hasUI) {
				try {
					ctx.ui.setWidget(UI_KEY, undefined);
					ctx.ui.setStatus(UI_KEY, undefined);
					ctx.ui.notify(summary.split("\n")[0] as string, ok ? "info" : "warning");
				} catch {
					// the UI is gone
				}
			} else log(summary);
			pi.sendMessage({
				customType: MESSAGE_TYPE,
				content: summary,
				display: true,
				details: { runId: state.runId, kind: "summary", reportPath },
			});
		},
	};
}
