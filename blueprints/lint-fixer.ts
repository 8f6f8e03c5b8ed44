/**
 * lint-fixer: runs the project's lint check and, while it fails, hands the failures to a fresh fixer agent, then
 * checks again.
 *
 * Args: `[max]` — how many fixer spawns at most (a positive whole number, default 10).
 * Ends: returns once lint passes; throws when a fixer spawn fails or lint still fails after `max` fixes.
 */
import type { CheckResult, Factory } from "pi-loop-factory";

const OUTPUT_TAIL = 4000;

export default async function lintFixer(factory: Factory, args: string[]) {
	const max = parseArgs(args);
	factory.observe.phase("lint fixing");
	for (let round = 1; ; round++) {
		factory.signal.throwIfAborted();
		const lint = await factory.check("lint");
		factory.observe.metric("lint failures", lint.failures.length);
		if (lint.passed) {
			factory.observe.log("info", `lint passes after ${round - 1} fix(es)`);
			return { passed: true, fixes: round - 1 };
		}
		if (round > max) {
			throw new Error(`lint still fails after ${max} fix(es): ${lint.failures.length} failure(s) left`);
		}
		factory.observe.log("info", `fix ${round}/${max}: ${lint.failures.length} lint failure(s)`);
		const fix = await factory.spawn({
			agent: "lint-fixer",
			systemPrompt: "You fix lint findings with small, local edits. Never silence a rule to make it pass.",
			prompt: fixPrompt(lint),
			step: round,
		});
		if (fix.exitCode !== 0) {
			throw new Error(`fixer ${round} did not finish: ${fix.errorMessage ?? fix.stopReason}`);
		}
	}
}

function parseArgs(args: string[]): number {
	if (args.length > 1) throw new Error(`lint-fixer takes at most one arg (max fixes), got: ${args.join(" ")}`);
	if (args.length === 0) return 10;
	const max = Number(args[0]);
	if (!Number.isInteger(max) || max < 1) {
		throw new Error(`lint-fixer: max fixes must be a positive whole number, got "${args[0]}"`);
	}
	return max;
}

function fixPrompt(lint: CheckResult): string {
	const listed = lint.failures.length > 0 ? lint.failures.map((f) => `- ${f}`).join("\n") : "(none parsed)";
	return [
		`\`${lint.command}\` reports these findings:`,
		listed,
		"",
		"Its output (the end of it):",
		lint.output.slice(-OUTPUT_TAIL),
		"",
		"Fix as many as you can, then stop.",
	].join("\n");
}
