/**
 * factory.loop: a Ralph loop inside a blueprint — check, spawn with the
 * failures, check again — ended by the loop engine's own stop rules
 * (stagnation, same failure, consecutive agent errors) or its iteration limit.
 */

import { outputTail } from "../../core/check-output.ts";
import type { CheckResult, LoopOutcome, LoopSpec, SpawnOptions, SpawnResult } from "../../core/factory-api.ts";
import { limitReached } from "../stop-rules.ts";
import { type CheckRecord, DEFAULT_OPTIONS, type IterationRecord, type LoopOptions, ZERO_USAGE } from "../types.ts";

export interface LoopSteps {
	spawn(options: SpawnOptions): Promise<SpawnResult>;
	check(check: string, options?: { cwd?: string }): Promise<CheckResult>;
}

function count(value: number | undefined, name: string, min: number): number | undefined {
	if (value === undefined) return undefined;
	if (!Number.isInteger(value) || value < min)
		throw new TypeError(`factory.loop: ${name} must be a whole number of at least ${min}, got ${String(value)}`);
	return value;
}

function checkRecord(c: CheckResult): CheckRecord {
	return {
		exitCode: c.exitCode,
		durationMs: c.durationMs,
		timedOut: c.timedOut,
		failures: c.failures.length,
		fingerprint: c.fingerprint,
		tail: "",
	};
}

/** The prompt of an iteration: the task and what the check said. */
export function loopPrompt(task: string, last: CheckResult): string {
	const said = outputTail(last.output);
	return `${task}\n\nThe check \`${last.command}\` exits ${last.exitCode}. Its output ends:\n\n${said}`;
}

export async function runLoopSpec(spec: LoopSpec, steps: LoopSteps): Promise<LoopOutcome> {
	if (!spec || typeof spec.check !== "string" || spec.check.trim() === "")
		throw new TypeError("factory.loop: check must name a check (tests, lint, types) or a command");
	if ((spec.prompt === undefined) === (spec.spawn === undefined))
		throw new TypeError("factory.loop: give exactly one of prompt (text) or spawn (a function)");
	if (spec.prompt !== undefined && (typeof spec.prompt !== "string" || spec.prompt.trim() === ""))
		throw new TypeError("factory.loop: prompt must be non-empty text");
	const options: LoopOptions = {
		...DEFAULT_OPTIONS,
		max: count(spec.max, "max", 1) ?? DEFAULT_OPTIONS.max,
		stagnation: count(spec.stagnation, "stagnation", 1) ?? DEFAULT_OPTIONS.stagnation,
		sameFailure: count(spec.sameFailure, "sameFailure", 2) ?? DEFAULT_OPTIONS.sameFailure,
		maxFailures: count(spec.maxFailures, "maxFailures", 1) ?? DEFAULT_OPTIONS.maxFailures,
	};
	const history: IterationRecord[] = [];
	const checks: CheckRecord[] = [];
	const where = spec.cwd === undefined ? undefined : { cwd: spec.cwd };
	let last = await steps.check(spec.check, where);
	checks.push(checkRecord(last));
	for (;;) {
		const iterations = history.length;
		if (last.passed) return { reason: "passed", iterations, last };
		const limit = limitReached(history, checks, options);
		if (limit) return { reason: limit.reason === "failures" ? "failures" : "stagnation", iterations, last };
		if (iterations >= options.max) return { reason: "max-iterations", iterations, last };
		const n = iterations + 1;
		const started = Date.now();
		const made = spec.spawn
			? await spec.spawn(n, last)
			: { agent: "loop", prompt: loopPrompt(spec.prompt as string, last), step: n, cwd: spec.cwd };
		const result = "exitCode" in made ? made : await steps.spawn(made);
		history.push({
			n,
			startedAt: new Date(started).toISOString(),
			durationMs: Date.now() - started,
			agent: result.exitCode === 0 ? "ok" : "error",
			error: result.errorMessage,
			filesChanged: result.filesChanged,
			usage: { ...ZERO_USAGE, ...result.usage },
			summary: "",
			promiseMade: false,
			checkBefore: checks.length - 1,
		});
		last = await steps.check(spec.check, where);
		checks.push(checkRecord(last));
		(history.at(-1) as IterationRecord).checkAfter = checks.length - 1;
	}
}
