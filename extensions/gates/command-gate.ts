/**
 * Runs one command gate: `{files}` becomes the shell-quoted file list, the
 * command runs in the project with the gate's timeout (whole process tree
 * killed), and the outcome is pass, fail with output, no tests found (the
 * runner's own words: nothing for the agent to fix), or unavailable.
 */
import { minimatch } from "minimatch";
import { stripAnsi } from "../core/check-output.ts";
import { runCheck } from "../core/check-runner.ts";
import { identifyCheck } from "../core/failure-identity.ts";
import { shellQuote } from "../shared/shell-quote.ts";
import type { GateResult } from "./messages.ts";
import type { Gate } from "./plan.ts";

export type CommandOutcome =
	| { status: "passed"; durationMs: number }
	| { status: "failed"; exitCode: number; output: string; durationMs: number }
	/** The runner found no tests (pytest exit 5, jest/vitest/mocha "no test files", npm's placeholder script). */
	| { status: "no-tests"; reason: string; durationMs: number }
	/** `cannotRun`: the command itself is missing or not executable — nothing the agent's changes caused. */
	| { status: "unavailable"; reason: string; durationMs: number; cannotRun?: boolean };

/** Exit codes of `sh -c` when the command is not there (127) or not executable (126). */
const CANNOT_RUN = new Set([126, 127]);

export function expandFiles(command: string, files: string[]): string {
	return command.replaceAll("{files}", files.map(shellQuote).join(" "));
}

/** Project-relative paths (forward slashes) the gate's glob accepts; every file when it has none. */
export function filesFor(gate: Gate, files: string[]): string[] {
	if (!gate.glob) return files;
	const glob = gate.glob;
	return files.filter((f) => minimatch(f, glob, { dot: true, matchBase: !glob.includes("/") }));
}

export async function runCommandGate(
	gate: Gate,
	cwd: string,
	files: string[] = [],
	signal?: AbortSignal,
): Promise<CommandOutcome> {
	if (gate.unavailable) return { status: "unavailable", reason: gate.unavailable, durationMs: 0, cannotRun: true };
	const command = expandFiles(gate.command ?? "", files);
	const run = await runCheck(command, cwd, gate.timeout * 1000, signal);
	if (run.timedOut)
		return { status: "unavailable", reason: `timed out after ${gate.timeout}s`, durationMs: run.durationMs };
	if (run.aborted) return { status: "unavailable", reason: "aborted", durationMs: run.durationMs };
	if (run.exitCode === 0) return { status: "passed", durationMs: run.durationMs };
	if (CANNOT_RUN.has(run.exitCode)) {
		const last = stripAnsi(run.output).trim().split("\n").at(-1) ?? "";
		return {
			status: "unavailable",
			reason: `command not found or not executable (exit ${run.exitCode})${last ? `: ${last}` : ""}`,
			durationMs: run.durationMs,
			cannotRun: true,
		};
	}
	const { identity } = identifyCheck(run.exitCode, run.output, cwd);
	if (identity.kind === "no-tests") return { status: "no-tests", reason: identity.detail, durationMs: run.durationMs };
	return { status: "failed", exitCode: run.exitCode, output: stripAnsi(run.output), durationMs: run.durationMs };
}

/** The record of one command gate's outcome (footer, /gates, fix rounds). */
export function commandResult(gate: Gate, outcome: CommandOutcome): GateResult {
	const result: GateResult = {
		gate: gate.name,
		kind: gate.kind,
		status: outcome.status,
		command: gate.command,
		at: Date.now(),
	};
	if (outcome.status === "failed") Object.assign(result, { exitCode: outcome.exitCode, detail: outcome.output });
	if (outcome.status === "unavailable") Object.assign(result, { detail: outcome.reason, cannotRun: outcome.cannotRun });
	if (outcome.status === "no-tests") Object.assign(result, { detail: outcome.reason });
	return result;
}
