/**
 * Text the gates show: the footer status, the /gates listing, the follow-up
 * that starts a fix round, the stop message when rounds run out, the steer
 * after a turn. Pure.
 */
import { tailLines } from "./diagnostics.ts";
import type { Gate, GatePlan } from "./plan.ts";

/** "no-tests": the runner found no tests — shown, never sent to the agent as a failure. */
export type GateStatus = "passed" | "failed" | "unavailable" | "no-tests";

export interface GateResult {
	gate: string;
	kind: Gate["kind"];
	status: GateStatus;
	/** Failure output or the reason it could not run. */
	detail?: string;
	/** The command is missing or not executable: reported, never sent to the agent to fix. */
	cannotRun?: boolean;
	exitCode?: number;
	command?: string;
	at: number;
}

const MARK: Record<GateStatus, string> = { passed: "✓", failed: "✗", unavailable: "?", "no-tests": "○" };
/** How a fix-round follow-up begins (recognized when it comes back as input). */
export const FIX_PREFIX = "[gates] The project's checks failed";
const FAILURE_TAIL_LINES = 40;

/** `✓ typescript ✗ tests` — the latest result of each gate, in plan order. */
export function statusLine(plan: GatePlan, results: Map<string, GateResult>, off: boolean): string | undefined {
	if (plan.configError) return "gates: config error";
	if (off || !plan.enabled) return "gates off";
	const marks = plan.gates.flatMap((g) => {
		const r = results.get(resultKey(g));
		return r ? [`${MARK[r.status]} ${g.name}`] : [];
	});
	return marks.length > 0 ? marks.join(" ") : undefined;
}

/** Whether a result goes to the agent to fix: a failure or a timeout, not a missing command or "no tests". */
export function needsFix(r: GateResult): boolean {
	return (r.status === "failed" || r.status === "unavailable") && !r.cannotRun;
}

/**
 * `✓ tests ✗ lint ? mypy` — one run's results; a gate that could not run is "?", one that timed out "✗",
 * one whose runner found no tests `○ tests: none found`.
 */
export function resultMarks(results: GateResult[]): string {
	return results
		.map((r) =>
			r.status === "no-tests"
				? `${MARK["no-tests"]} ${r.gate}: none found`
				: `${r.status === "passed" ? "✓" : r.cannotRun ? "?" : "✗"} ${r.gate}`,
		)
		.join(" ");
}

export function resultKey(gate: Pick<Gate, "kind" | "name">): string {
	return `${gate.kind}:${gate.name}`;
}

function describeGate(g: Gate): string {
	const what = g.command ? `\`${g.command}\`` : `language server (${g.languageServer})`;
	const where = g.glob ? ` on ${g.glob}` : "";
	const origin = g.origin === "config" ? "config" : `detected: ${g.source}`;
	return `${g.name}: ${what}${where}, timeout ${g.timeout}s (${origin})`;
}

function describeResult(r: GateResult | undefined): string {
	if (!r) return "not run yet";
	const when = new Date(r.at).toLocaleTimeString();
	if (r.status === "passed") return `✓ passed at ${when}`;
	if (r.status === "unavailable") return `? unavailable at ${when}: ${r.detail}`;
	if (r.status === "no-tests") return `○ none found at ${when} (${r.detail})`;
	return `✗ failed at ${when}${r.exitCode !== undefined ? ` (exit ${r.exitCode})` : ""}`;
}

/** The /gates report: state, each gate by kind with its origin and last result. */
export function gatesReport(
	plan: GatePlan,
	results: Map<string, GateResult>,
	off: boolean,
	extra: { servers?: string[]; skippedInLoop?: boolean } = {},
): string {
	const lines: string[] = [];
	if (plan.configError) return `gates are off: the config has an error — ${plan.configError}`;
	const state = !plan.enabled
		? 'off (config "gates.enabled": false)'
		: off
			? "off for this pi session (/gates on)"
			: "on";
	lines.push(`gates: ${state} · fix rounds on done: ${plan.rounds}`);
	for (const kind of ["onWrite", "onTurnEnd", "onDone"] as const) {
		const gates = plan.gates.filter((g) => g.kind === kind);
		lines.push(`${kind}:${gates.length === 0 ? " none" : ""}`);
		for (const g of gates) {
			lines.push(`  ${describeGate(g)}`);
			lines.push(`    ${g.unavailable ? `unavailable: ${g.unavailable}` : describeResult(results.get(resultKey(g)))}`);
		}
	}
	if (extra.servers && extra.servers.length > 0)
		lines.push("diagnostic servers:", ...extra.servers.flatMap((s) => s.split("\n")).map((s) => `  ${s}`));
	const paths = plan.protectedPaths.length > 0 ? plan.protectedPaths.join(", ") : "none";
	lines.push(`protected paths: ${paths} (and anything outside the project)`);
	return lines.join("\n");
}

function failureBlock(failures: GateResult[]): string {
	return failures
		.map((f) => {
			const head =
				f.status === "unavailable"
					? `✗ ${f.gate}: could not run (${f.detail})`
					: `✗ ${f.gate} (exit ${f.exitCode})${f.command ? `: ${f.command}` : ""}`;
			const tail = f.status === "failed" && f.detail ? `\n${tailLines(f.detail, FAILURE_TAIL_LINES).join("\n")}` : "";
			return `${head}${tail}`;
		})
		.join("\n\n");
}

export function fixRoundMessage(failures: GateResult[], round: number, rounds: number): string {
	return [
		`${FIX_PREFIX} after your changes (fix round ${round} of ${rounds}):`,
		"",
		failureBlock(failures),
		"",
		"Fix the cause, then finish. The checks run again when you are done.",
	].join("\n");
}

export function stopMessage(failures: GateResult[], rounds: number): string {
	const names = failures.map((f) => f.gate).join(", ");
	const why =
		rounds === 0 ? "(fix rounds are off: gates.rounds = 0)" : `after ${rounds} fix round${rounds === 1 ? "" : "s"}`;
	return `gates: still failing ${why}: ${names}. Stopped; the failures are yours to look at (/gates for details).`;
}

export function turnEndMessage(failures: GateResult[]): string {
	return `[gates] After your last changes these checks fail:\n\n${failureBlock(failures)}`;
}
