/**
 * progress-tracking: a fix loop that measures itself. Each round it counts the check's failures, keeps the history
 * in `factory.state.progress` (saved with the run), tells the agent how the count has moved, and gives up once the
 * count has not gone below its best for N rounds in a row.
 *
 * Args: `[check] [--max N] [--stagnation N]` — check is lint, tests, types or a shell command (default lint);
 * max fixer spawns (default 20); rounds without a new lowest failure count before stopping (default 3).
 * Ends: returns when the check passes; throws on stagnation, on reaching max, or when a fixer spawn fails.
 */
import type { CheckResult, Factory } from "pi-loop-factory";

interface Progress {
	check: string;
	/** Failure count seen before each fixer spawn, then after the last one. */
	counts: number[];
	/** Lowest failure count so far (null before the first check: state is saved as JSON, which has no Infinity). */
	best: number | null;
	roundsWithoutDrop: number;
}

export default async function progressTracking(factory: Factory, args: string[]) {
	const { check, max, stagnation } = parseArgs(args);
	const progress: Progress = { check, counts: [], best: null, roundsWithoutDrop: 0 };
	factory.state.progress = progress;
	factory.observe.phase(`fixing ${check}`);
	for (let round = 1; ; round++) {
		factory.signal.throwIfAborted();
		const result = await factory.check(check);
		if (result.passed) {
			progress.counts.push(0);
			factory.observe.log("info", `${check} passes after ${round - 1} fix(es)`, { counts: progress.counts });
			return { passed: true, fixes: round - 1, counts: progress.counts };
		}
		const count = failureCount(result);
		progress.counts.push(count);
		factory.observe.metric("failures", count);
		if (progress.best === null || count < progress.best) {
			progress.best = count;
			progress.roundsWithoutDrop = 0;
		} else {
			progress.roundsWithoutDrop++;
		}
		if (progress.roundsWithoutDrop >= stagnation) {
			factory.observe.log("warning", `no drop below ${progress.best} failure(s) in ${stagnation} round(s)`);
			throw new Error(`${check}: stagnated at ${count} failure(s) (best ${progress.best}) for ${stagnation} fix(es)`);
		}
		if (round > max) throw new Error(`${check} still fails after ${max} fix(es): ${count} failure(s) left`);
		factory.observe.log("info", `round ${round}: ${count} failure(s), best ${progress.best}`);
		const fix = await factory.spawn({
			agent: "fixer",
			systemPrompt: "You reduce a check's failures step by step. Avoid approaches that already failed to help.",
			prompt: roundPrompt(result, progress),
			step: round,
		});
		if (fix.exitCode !== 0) throw new Error(`fixer ${round} did not finish: ${fix.errorMessage ?? fix.stopReason}`);
	}
}

/** Parsed failure ids when the runner found some; a failing check with none parsed counts as one failure. */
function failureCount(result: CheckResult): number {
	return Math.max(1, result.failures.length);
}

function roundPrompt(result: CheckResult, progress: Progress): string {
	const history = progress.counts.join(" → ");
	const trend =
		progress.roundsWithoutDrop > 0
			? `The last ${progress.roundsWithoutDrop} attempt(s) did not lower the count: try a different approach.`
			: "The count is at its lowest so far.";
	return [
		`\`${result.command}\` fails. Failure count per round so far: ${history}. ${trend}`,
		"",
		result.failures.length > 0 ? result.failures.map((f) => `- ${f}`).join("\n") : "(no failure ids parsed)",
		"",
		"Output (the end of it):",
		result.output.slice(-4000),
	].join("\n");
}

function parseArgs(args: string[]): { check: string; max: number; stagnation: number } {
	const found = { check: "lint", max: 20, stagnation: 3 };
	let checkGiven = false;
	for (let i = 0; i < args.length; i++) {
		const arg = args[i];
		if (arg === "--max" || arg === "--stagnation") {
			found[arg === "--max" ? "max" : "stagnation"] = positive(arg, args[++i]);
		} else if (arg.startsWith("--")) {
			throw new Error(`progress-tracking: unknown flag ${arg}`);
		} else if (arg.trim() === "") {
			throw new Error("progress-tracking: the check is empty");
		} else if (checkGiven) {
			throw new Error(`progress-tracking: one check only (quote a command with spaces), got extra "${arg}"`);
		} else {
			found.check = arg;
			checkGiven = true;
		}
	}
	return found;
}

function positive(flag: string, text: string | undefined): number {
	const n = Number(text);
	if (!Number.isInteger(n) || n < 1) {
		throw new Error(`progress-tracking: ${flag} needs a positive whole number, got "${text ?? ""}"`);
	}
	return n;
}
