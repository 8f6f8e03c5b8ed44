/**
 * Text of a blueprint run: report.md (a row per spawn and per exec/check, the phases,
 * the log lines, metrics, factory.state, cost by agent and by role) and the one-line progress and
 * summary lines. Pure.
 */
import { shellWords } from "../../shared/shell-quote.ts";
import { plural } from "../check-text.ts";
import type { BlueprintState, ExecRecord, LoopState, SpawnRecord } from "../types.ts";
import { totalUsage } from "../types.ts";
import { formatCost, formatDuration } from "../view.ts";

const BLUEPRINT_REASONS: Record<string, string> = {
	completed: "the script finished",
	failed: "the script threw an error",
	budget: "a limit of the run was reached (--max-spawns, --max-cost)",
	timeout: "the run's time limit was reached",
	stopped: "stopped by /loop stop",
	aborted: "aborted",
};

function cell(text: string): string {
	return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function files(list: string[]): string {
	if (list.length === 0) return "—";
	return list.slice(0, 5).join(", ") + (list.length > 5 ? ` +${list.length - 5}` : "");
}

export function spawnLine(s: SpawnRecord): string {
	const how = s.exitCode === 0 ? "ok" : `failed (${s.stopReason}${s.error ? `: ${s.error}` : ""})`;
	const from = s.replayed ? " · replayed from the journal" : "";
	return (
		`step ${s.position + 1}: spawn ${s.agent}${s.step !== undefined ? ` #${s.step}` : ""} ${how} · ` +
		`${s.model || "—"} · ` +
		`${formatDuration(s.durationMs)} · ${formatCost(s.usage.cost)} · ${plural(s.filesChanged.length, "file")}${from}`
	);
}

export function execLine(e: ExecRecord): string {
	const how = e.exitCode === 0 ? "passed" : `exit ${e.exitCode}${e.timedOut ? " (timed out)" : ""}`;
	const failures = e.failures ? ` · ${plural(e.failures, "failure")}` : "";
	const after = `${failures} · ${formatDuration(e.durationMs)}${e.replayed ? " · replayed" : ""}`;
	return `step ${e.position + 1}: ${e.kind} ${e.command}: ${how}${after}`;
}

/**
 * The isolated spawns, one lane each: its branch, the check where it worked, what its merge did, its cost. A
 * branch merged more than once (a resumed run) shows the last outcome.
 */
function laneLines(b: BlueprintState | undefined): string[] {
	const lanes = (b?.spawns ?? []).filter((s) => s.branch !== undefined);
	if (lanes.length === 0) return [];
	const lines = [
		"",
		"## Branches",
		"",
		"| step | label | branch | check where it worked | merge | cost |",
		"|---|---|---|---|---|---|",
	];
	for (const s of lanes) {
		const merge = (b?.merges ?? []).findLast((m) => m.branch === s.branch);
		const check = s.check ? `${s.check.passed ? "passed" : "failed"}: \`${cell(s.check.command)}\`` : "—";
		const merged = merge ? `${merge.status}${merge.detail ? ` — ${merge.detail}` : ""}` : "not merged";
		lines.push(
			`| ${s.position + 1} | ${s.step ?? "—"} | \`${s.branch}\` | ${check} | ${cell(merged)} | ` +
				`${formatCost(s.usage.cost)} |`,
		);
	}
	return lines;
}

function costBy(spawns: SpawnRecord[], key: (s: SpawnRecord) => string, title: string): string[] {
	const rows = new Map<string, { calls: number; input: number; output: number; cost: number }>();
	for (const s of spawns) {
		const row = rows.get(key(s)) ?? { calls: 0, input: 0, output: 0, cost: 0 };
		row.calls++;
		row.input += s.usage.input;
		row.output += s.usage.output;
		row.cost += s.usage.cost;
		rows.set(key(s), row);
	}
	if (rows.size === 0) return [];
	return [
		"",
		`## Cost by ${title}`,
		"",
		`| ${title} | spawns | tokens in/out | cost |`,
		"|---|---|---|---|",
		...[...rows].map(([k, r]) => `| ${cell(k)} | ${r.calls} | ${r.input}/${r.output} | ${formatCost(r.cost)} |`),
	];
}

export function blueprintSummary(state: LoopState, reportPath: string): string {
	const b = state.blueprint;
	const ok = state.reason === "completed";
	const usage = totalUsage(state);
	const replayed = b?.spawns.filter((s) => s.replayed).length ?? 0;
	const lines = [
		`${ok ? "✓" : "✗"} blueprint ${b?.file ?? ""} ended: ${state.reason} — ` +
			`${BLUEPRINT_REASONS[state.reason ?? ""] ?? ""}`,
		`  ${plural(b?.spawns.length ?? 0, "spawn")}${replayed ? ` (${replayed} replayed)` : ""} · ` +
			`${plural(b?.execs.length ?? 0, "command")} · ${formatDuration(state.elapsedMs)} · ${formatCost(usage.cost)}`,
	];
	if (state.detail) lines.push(`  ${state.detail}`);
	lines.push(`  report: ${reportPath}`);
	return lines.join("\n");
}

export function renderBlueprintReport(state: LoopState): string {
	const b = state.blueprint;
	const usage = totalUsage(state);
	const o = state.options;
	const ending =
		state.status === "ended"
			? `**${state.reason}** — ${BLUEPRINT_REASONS[state.reason ?? ""] ?? ""}${state.detail ? ` (${state.detail})` : ""}`
			: "still running (or interrupted: `/loop resume`)";
	const lines = [
		`# Blueprint report ${state.runId}`,
		"",
		`- Blueprint: \`${b?.file ?? "?"}\`${b && b.args.length > 0 ? ` with arguments \`${shellWords(b.args)}\`` : ""}`,
		`- Ending: ${ending}`,
		`- Started: ${state.startedAt}${state.endedAt ? ` · ended ${state.endedAt}` : ""} · ` +
			`run time ${formatDuration(state.elapsedMs)} · attempt ${b?.attempts ?? 1}`,
		`- Limits: ${o.maxSpawns ?? "?"} spawns · ${o.maxCost !== undefined ? `$${o.maxCost}` : "no cost limit"} · ` +
			`concurrency ${o.concurrency ?? "?"}${o.timeoutMs ? ` · timeout ${formatDuration(o.timeoutMs)}` : ""} · ` +
			`spawn timeout ${formatDuration(o.iterationTimeoutMs)}`,
		"",
		"## Spawns",
		"",
		"| step | agent | label | model | role | result | files changed | tokens in/out | cost | time |",
		"|---|---|---|---|---|---|---|---|---|---|",
	];
	for (const s of b?.spawns ?? []) {
		const result =
			(s.exitCode === 0 ? "ok" : `failed: ${s.stopReason}${s.error ? ` — ${s.error}` : ""}`) +
			(s.replayed ? " (replayed)" : "");
		lines.push(
			`| ${s.position + 1} | ${cell(s.agent)} | ${s.step ?? "—"} | ${s.model || "—"} | ${s.role || "—"} | ` +
				`${cell(result)} | ${cell(files(s.filesChanged))} | ${s.usage.input}/${s.usage.output} | ` +
				`${formatCost(s.usage.cost)} | ${formatDuration(s.durationMs)} |`,
		);
	}
	if ((b?.spawns.length ?? 0) === 0) lines.push("| — | no spawn | | | | | | | | |");
	lines.push(...laneLines(b));
	if (b && b.execs.length > 0) {
		lines.push(
			"",
			"## Commands",
			"",
			"| step | kind | command | exit | failures | time |",
			"|---|---|---|---|---|---|",
		);
		for (const e of b.execs)
			lines.push(
				`| ${e.position + 1} | ${e.kind} | \`${cell(e.command)}\` | ${e.exitCode}${e.timedOut ? " (timeout)" : ""} | ` +
					`${e.failures ?? "—"} | ${formatDuration(e.durationMs)}${e.replayed ? " (replayed)" : ""} |`,
			);
	}
	if (b && b.phases.length > 0) {
		lines.push("", "## Phases", "");
		for (const [i, title] of b.phases.entries()) lines.push(`${i + 1}. ${title}`);
	}
	if (b && b.logs.length > 0) {
		lines.push("", "## Log", "");
		for (const l of b.logs)
			lines.push(
				`- ${l.at} **${l.level}** ${l.message}${l.data === undefined ? "" : ` \`${JSON.stringify(l.data)}\``}`,
			);
	}
	if (b && Object.keys(b.metrics).length > 0) {
		lines.push("", "## Metrics", "");
		for (const [name, value] of Object.entries(b.metrics)) lines.push(`- ${name}: ${value}`);
	}
	// factory.state: what the script chose to keep (its progress, its verdicts).
	if (b && Object.keys(b.values).length > 0)
		lines.push("", "## State", "", "```json", JSON.stringify(b.values, null, 2), "```");
	lines.push(...costBy(b?.spawns ?? [], (s) => s.agent, "agent"));
	lines.push(...costBy(b?.spawns ?? [], (s) => s.role || "(named model)", "role"));
	lines.push(
		"",
		`**Totals:** ${plural(b?.spawns.length ?? 0, "spawn")} · ${plural(b?.execs.length ?? 0, "command")} · ` +
			`${usage.input} input / ${usage.output} output tokens · ${formatCost(usage.cost)}`,
		"",
	);
	return lines.join("\n");
}
