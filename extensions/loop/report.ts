/**
 * report.md: a human summary of one run — settings, ending, a table of
 * iterations with their checks, files, usage and cost, and totals.
 */

import { plural } from "./check-text.ts";
import type { CheckRecord, LoopState, Usage } from "./types.ts";
import { totalUsage } from "./types.ts";
import { formatCost, formatDuration, reasonText } from "./view.ts";

function cell(text: string): string {
	return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function checkCell(check: CheckRecord | undefined): string {
	if (!check) return "—";
	if (check.exitCode === 0) return "pass";
	if (check.noTests) return `exit ${check.exitCode} (no tests)`;
	const count = check.failures === undefined ? "" : ` (${check.failures})`;
	return `exit ${check.exitCode}${count}${check.timedOut ? " timeout" : ""}`;
}

/** What each role (and model) cost: iterations, review passes and commit messages. */
function costByRole(state: LoopState): string[] {
	const rows = new Map<
		string,
		{ role: string; model: string; calls: number; input: number; output: number; cost: number }
	>();
	const add = (role: string | undefined, model: string | undefined, u: Usage) => {
		const key = `${role ?? "—"}\0${model ?? "—"}`;
		const row = rows.get(key) ?? { role: role ?? "—", model: model ?? "—", calls: 0, input: 0, output: 0, cost: 0 };
		row.calls++;
		row.input += u.input;
		row.output += u.output;
		row.cost += u.cost;
		rows.set(key, row);
	};
	for (const it of state.history) add(it.role, it.model, it.usage);
	for (const c of state.calls ?? []) add(c.kind === "review" ? c.role : `${c.role} (commit message)`, c.model, c.usage);
	if (rows.size === 0) return [];
	return [
		"",
		"## Cost by role",
		"",
		"| role | model | calls | tokens in/out | cost |",
		"|---|---|---|---|---|",
		...[...rows.values()].map(
			(r) => `| ${r.role} | ${r.model} | ${r.calls} | ${r.input}/${r.output} | ${formatCost(r.cost)} |`,
		),
	];
}

export function renderReport(state: LoopState): string {
	const usage = totalUsage(state);
	const ending =
		state.status === "ended"
			? `**${state.reason}** — ${reasonText(state.reason ?? "")}${state.detail ? ` (${state.detail})` : ""}`
			: "still running (or interrupted: `/loop resume`)";
	const o = state.options;
	const lines = [
		`# Loop report ${state.runId}`,
		"",
		`- Loop: \`/loop ${state.preset}\` on \`${state.check}\` (${state.checkSource})`,
		`- Goal: ${state.goal}`,
		`- Ending: ${ending}`,
		`- Started: ${state.startedAt}${state.endedAt ? ` · ended ${state.endedAt}` : ""} · ` +
			`loop time ${formatDuration(state.elapsedMs)}`,
		`- Limits: max ${o.max} iterations · stagnation ${o.stagnation} · max failures ${o.maxFailures} · ` +
			`same failure ${o.sameFailure}` +
			`${o.timeoutMs ? ` · timeout ${formatDuration(o.timeoutMs)}` : ""} · ` +
			`check timeout ${formatDuration(o.checkTimeoutMs)}` +
			`${o.promise ? ` · promise "${o.promise}"` : ""}`,
		"",
		"| # | check before | check after | files changed | agent | model | tokens in/out | cost | time | summary |",
		"|---|---|---|---|---|---|---|---|---|---|",
	];
	for (const it of state.history) {
		const after = it.checkAfter === undefined ? undefined : state.checks[it.checkAfter];
		const files =
			it.filesChanged.length === 0
				? "—"
				: it.filesChanged.slice(0, 5).join(", ") +
					(it.filesChanged.length > 5 ? ` +${it.filesChanged.length - 5}` : "");
		const agent =
			it.agent === "ok" ? (it.promiseMade ? "ok, promised" : "ok") : `${it.agent}${it.error ? `: ${it.error}` : ""}`;
		lines.push(
			`| ${it.n} | ${checkCell(state.checks[it.checkBefore])} | ${checkCell(after)} | ${cell(files)} | ` +
				`${cell(agent)} | ${it.model ?? "—"} | ${it.usage.input}/${it.usage.output} | ` +
				`${formatCost(it.usage.cost)} | ${formatDuration(it.durationMs)} | ${cell(it.summary)} |`,
		);
	}
	if (state.history.length === 0)
		lines.push(`| — | ${checkCell(state.checks[0])} | — | — | no model call | — | — | — | — | — |`);
	lines.push(...costByRole(state));
	if (state.work && state.preset !== "plan") {
		const w = state.work;
		lines.push("", `## Items (${w.file})`, "");
		const blocked = w.blockedInFile ?? w.blocked;
		for (const item of w.done) lines.push(`- [x] ${item}`);
		for (const b of blocked) lines.push(`- [ ] ${b.item} — **blocked**: ${b.reason}`);
		for (const item of w.remaining ?? []) lines.push(`- [ ] ${item} — remaining`);
		lines.push(
			"",
			`${w.done.length} done in this run · ${blocked.length} blocked · ${(w.remaining ?? []).length} remaining`,
		);
	}
	lines.push(
		"",
		`**Totals:** ${plural(state.history.length, "iteration")} · ${plural(state.checks.length, "check run")} · ` +
			`${usage.input} input / ${usage.output} output tokens` +
			` (${usage.cacheRead} cache read, ${usage.cacheWrite} cache write) · ${formatCost(usage.cost)}`,
		"",
	);
	return lines.join("\n");
}
