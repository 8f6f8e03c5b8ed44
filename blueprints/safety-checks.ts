/**
 * safety-checks: a fix loop with every brake written out, for copying into your own blueprints. Before each spawn it
 * stops when money or spawns are running out; after each check it stops when the failure fingerprint has not
 * changed for N rounds; after each spawn it stops when the agent has failed K times in a row.
 *
 * Args: `[check] [--max N] [--stagnation N] [--failures K] [--reserve DOLLARS]` — check is lint, tests, types or
 * a shell command (default tests); fixer spawns at most (default 20); rounds with an unchanged fingerprint
 * (default 3); agent failures in a row (default 2); stop when `factory.budget.remaining` is below the reserve
 * (default: the costliest spawn so far, so the next one is likely to fit).
 * Ends: returns when the check passes; throws naming the brake that stopped it otherwise.
 */
import type { CheckResult, Factory } from "pi-loop-factory";

interface Limits {
	check: string;
	max: number;
	stagnation: number;
	failures: number;
	reserve?: number;
}

export default async function safetyChecks(factory: Factory, args: string[]) {
	const limits = parseArgs(args);
	const { check } = limits;
	let lastFingerprint: string | undefined;
	let unchanged = 0;
	let failuresInRow = 0;
	let costliest = 0;
	const stop = (brake: string, detail: string): never => {
		factory.observe.log("error", `stopped by ${brake}: ${detail}`);
		factory.state.stoppedBy = brake;
		throw new Error(`safety-checks stopped by ${brake}: ${detail}`);
	};
	factory.observe.phase(`fixing ${check}`);
	for (let round = 1; ; round++) {
		factory.signal.throwIfAborted();
		const result = await factory.check(check);
		if (result.passed) {
			factory.observe.log("info", `${check} passes after ${round - 1} fix(es)`);
			return { passed: true, fixes: round - 1 };
		}
		factory.observe.metric("failures", result.failures.length);
		unchanged = result.fingerprint === lastFingerprint ? unchanged + 1 : 0;
		lastFingerprint = result.fingerprint;
		if (unchanged >= limits.stagnation) {
			stop("stagnation", `the same failure ${unchanged + 1} checks in a row (${result.failures.length} failure(s))`);
		}
		if (round > limits.max) stop("max", `${limits.max} fix(es) made, ${check} still fails`);
		const { remaining, spawnsRemaining } = factory.budget;
		const reserve = limits.reserve ?? costliest;
		if (remaining < reserve || remaining <= 0) {
			stop("budget", `$${remaining.toFixed(2)} left, reserve $${reserve.toFixed(2)}`);
		}
		if (spawnsRemaining <= 0) stop("budget", "no spawns left under --max-spawns");
		factory.observe.log("info", `round ${round}: ${result.failures.length} failure(s)`, {
			unchanged,
			failuresInRow,
			remaining,
		});
		const fix = await factory.spawn({ agent: "fixer", prompt: fixPrompt(result, unchanged), step: round });
		costliest = Math.max(costliest, fix.cost);
		if (fix.exitCode === 0) {
			failuresInRow = 0;
			continue;
		}
		failuresInRow++;
		factory.observe.log("warning", `fixer ${round} failed (${failuresInRow} in a row): ${fix.errorMessage ?? ""}`);
		if (failuresInRow >= limits.failures) stop("agent failures", `${failuresInRow} failed spawns in a row`);
	}
}

function fixPrompt(result: CheckResult, unchanged: number): string {
	return [
		`\`${result.command}\` fails${unchanged > 0 ? `, unchanged for ${unchanged} attempt(s): change approach` : ""}.`,
		result.failures.map((f) => `- ${f}`).join("\n"),
		"",
		result.output.slice(-4000),
	].join("\n");
}

function parseArgs(args: string[]): Limits {
	const limits: Limits = { check: "tests", max: 20, stagnation: 3, failures: 2 };
	let checkGiven = false;
	for (let i = 0; i < args.length; i++) {
		const arg = args[i];
		const value = args[i + 1];
		if (arg === "--reserve") {
			const dollars = Number(value);
			if (value === undefined || value.trim() === "" || !(dollars >= 0) || !Number.isFinite(dollars)) {
				throw new Error(`safety-checks: --reserve needs an amount in dollars, got "${value ?? ""}"`);
			}
			limits.reserve = dollars;
			i++;
		} else if (arg === "--max" || arg === "--stagnation" || arg === "--failures") {
			const n = Number(value);
			if (!Number.isInteger(n) || n < 1) {
				throw new Error(`safety-checks: ${arg} needs a positive whole number, got "${value ?? ""}"`);
			}
			limits[arg.slice(2) as "max" | "stagnation" | "failures"] = n;
			i++;
		} else if (arg.startsWith("--")) {
			throw new Error(`safety-checks: unknown flag ${arg}`);
		} else if (checkGiven || arg.trim() === "") {
			throw new Error(`safety-checks: give one non-empty check (quote a command with spaces), got "${arg}"`);
		} else {
			limits.check = arg;
			checkGiven = true;
		}
	}
	return limits;
}
