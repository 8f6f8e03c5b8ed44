/**
 * report.md: a human summary of one run — settings, ending, a table of
 * iterations with their checks, files, usage and cost, and totals.
 */
import type { CheckRecord, LoopState } from "./types.ts";
import { totalUsage } from "./types.ts";
import { formatCost, formatDuration, plural, reasonText } from "./view.ts";

function cell(text: string): string {
	return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function checkCell(check: CheckRecord | undefined): string {
	if (!check) return "—";
	if (check.exitCode === 0) return "pass";
	const count = check.failures === undefined ? "" : ` (${check.failures})`;
	return `exit ${check.exitCode}${count}${check.timedOut ? " timeout" : ""}`;
}

export function renderReport(state: LoopState): string {
	const usage = totalUsage(state);
	const ending = state.status === "ended" ? `**${state.reason}** — ${reasonText(state.reason ?? "")}${state.detail ? ` (${state.detail})` : ""}` : "still running (or interrupted: `/loop resume`)";
	const o = state.options;
	const lines = [
		`# Loop report ${state.runId}`,
		"",
		`- Loop: \`/loop ${state.preset}\` on \`${state.check}\` (${state.checkSource})`,
		`- Goal: ${state.goal}`,
		`- Ending: ${ending}`,
		`- Started: ${state.startedAt}${state.endedAt ? ` · ended ${state.endedAt}` : ""} · loop time ${formatDuration(state.elapsedMs)}`,
		`- Limits: max ${o.max} iterations · stagnation ${o.stagnation} · max failures ${o.maxFailures} · same failure ${o.sameFailure}` +
			`${o.timeoutMs ? ` · timeout ${formatDuration(o.timeoutMs)}` : ""} · check timeout ${formatDuration(o.checkTimeoutMs)}` +
			`${o.promise ? ` · promise "${o.promise}"` : ""}`,
		"",
		"| # | check before | check after | files changed | agent | tokens in/out | cost | time | summary |",
		"|---|---|---|---|---|---|---|---|---|",
	];
	for (const it of state.history) {
		const after = it.checkAfter === undefined ? undefined : state.checks[it.checkAfter];
		const files = it.filesChanged.length === 0 ? "—" : it.filesChanged.slice(0, 5).join(", ") + (it.filesChanged.length > 5 ? ` +${it.filesChanged.length - 5}` : "");
		const agent = it.agent === "ok" ? (it.promiseMade ? "ok, promised" : "ok") : `${it.agent}${it.error ? `: ${it.error}` : ""}`;
		lines.push(
			`| ${it.n} | ${checkCell(state.checks[it.checkBefore])} | ${checkCell(after)} | ${cell(files)} | ${cell(agent)} | ${it.usage.input}/${it.usage.output} | ${formatCost(it.usage.cost)} | ${formatDuration(it.durationMs)} | ${cell(it.summary)} |`,
		);
	}
	if (state.history.length === 0) lines.push("| — | " + checkCell(state.checks[0]) + " | — | — | no model call | — | — | — | — |");
	if (state.work && state.preset !== "plan") {
		const w = state.work;
		lines.push("", `## Items (${w.file})`, "");
		const blocked = w.blockedInFile ?? w.blocked;
		for (const item of w.done) lines.push(`- [x] ${item}`);
		for (const b of blocked) lines.push(`- [ ] ${b.item} — **blocked**: ${b.reason}`);
		for (const item of w.remaining ?? []) lines.push(`- [ ] ${item} — remaining`);
		lines.push("", `${w.done.length} done in this run · ${blocked.length} blocked · ${(w.remaining ?? []).length} remaining`);
	}
	lines.push(
		"",
		`**Totals:** ${plural(state.history.length, "iteration")} · ${plural(state.checks.length, "check run")} · ${usage.input} input / ${usage.output} output tokens` +
			` (${usage.cacheRead} cache read, ${usage.cacheWrite} cache write) · ${formatCost(usage.cost)}`,
		"",
	);
	return lines.join("\n");
}
