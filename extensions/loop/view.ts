/**
 * Text rendering of loop progress: the widget line with its failure trend,
 * the footer status, the iteration-boundary messages and the final summary.
 * Pure functions of the state; the pi wiring decides where they go.
 */

import { describeCheck, plural } from "./check-text.ts";
import type { CheckRecord, IterationRecord, LoopState } from "./types.ts";
import { succeeded, totalUsage } from "./types.ts";

export function formatDuration(ms: number): string {
	const s = Math.floor(ms / 1000);
	if (s < 60) return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${s}s`;
	const m = Math.floor(s / 60);
	if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
	return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export function formatCost(cost: number): string {
	return `$${cost.toFixed(cost > 0 && cost < 0.01 ? 4 : 2)}`;
}

/** Failure count of a check for trends: parsed count, 0 when passing, else undefined. */
function failureValue(check: CheckRecord): number | undefined {
	if (check.exitCode === 0) return 0;
	return check.failures;
}

function failureLabel(check: CheckRecord): string {
	if (check.noTests && check.exitCode !== 0) return "no tests";
	const v = failureValue(check);
	return v === undefined ? "✗" : String(v);
}

const BARS = "▁▂▃▄▅▆▇█";

/** A small sparkline of failure counts (✗ where a count was unknown, ○ where no tests were found). */
export function trend(checks: CheckRecord[], width = 12): string {
	const recent = checks.slice(-width);
	const values = recent.map(failureValue);
	const max = Math.max(1, ...values.map((v) => v ?? 0));
	const bar = (v: number | undefined, i: number) =>
		recent[i]?.noTests ? "○" : v === undefined ? "✗" : BARS[Math.round((v / max) * (BARS.length - 1))];
	return values.map(bar).join("");
}

function failingPart(state: LoopState): string {
	const first = state.checks[0];
	const last = state.checks.at(-1);
	if (!first || !last) return "checking…";
	if (last.exitCode === 0) return "passing";
	return first === last ? `failing ${failureLabel(last)}` : `failing ${failureLabel(first)}→${failureLabel(last)}`;
}

/** `loop tests · 3/10 · failing 4→2 · 1m32s · $0.12` plus a trend line. */
export function widgetLines(state: LoopState, elapsedMs: number): string[] {
	const n = state.current?.n ?? state.history.length;
	const head = [
		`loop ${state.preset}`,
		`${n}/${state.options.max}`,
		failingPart(state),
		formatDuration(elapsedMs),
		formatCost(totalUsage(state).cost),
	].join(" · ");
	return [head, `trend ${trend(state.checks)}  ·  ${state.check}`];
}

export function statusText(state: LoopState): string {
	const n = state.current?.n ?? state.history.length;
	return `⟳ loop ${n}/${state.options.max} ${failingPart(state)}`;
}

export function iterationLine(state: LoopState, it: IterationRecord): string {
	const files = it.filesChanged.length === 0 ? "no files changed" : `${plural(it.filesChanged.length, "file")} changed`;
	const agent = it.agent === "ok" ? "" : ` · agent ${it.agent}`;
	return (
		`loop ${state.preset} · iteration ${it.n}/${state.options.max} done · ${files}${agent} · ` +
		`${formatDuration(it.durationMs)} · ${formatCost(it.usage.cost)}`
	);
}

export function checkLine(state: LoopState, check: CheckRecord): string {
	return `loop ${state.preset} · check ${describeCheck(check)} in ${formatDuration(check.durationMs)}: ${state.check}`;
}

const REASON_TEXT: Record<string, string> = {
	passed: "the check passes",
	promise: "the check passes and the agent kept its promise",
	"max-iterations": "iteration limit reached",
	stagnation: "no progress",
	failures: "too many agent errors",
	timeout: "time limit reached",
	stopped: "stopped by the user",
	aborted: "aborted",
	"plan-stable": "the plan stopped changing",
	"plan-complete": "no open plan item left",
	"prd-complete": "no open PRD item left",
};

export function summaryText(state: LoopState, reportPath: string): string {
	const ok = succeeded(state);
	const usage = totalUsage(state);
	const mark = ok ? "✓" : "✗";
	const lines = [
		`${mark} loop ${state.preset} ended: ${state.reason} — ${REASON_TEXT[state.reason ?? ""] ?? ""}`,
		`  ${plural(state.history.length, "iteration")} · ${plural(state.checks.length, "check run")} · ` +
			`${formatDuration(state.elapsedMs)} · ${formatCost(usage.cost)} · ${usage.input + usage.output} tokens`,
	];
	if (state.detail) lines.push(`  ${state.detail}`);
	lines.push(`  report: ${reportPath}`);
	return lines.join("\n");
}

export function reasonText(reason: string): string {
	return REASON_TEXT[reason] ?? reason;
}
