/**
 * per-module: nested loops — an outer pass over module directories and, for each, an inner `factory.loop` whose
 * agent is told to stay inside that module. A module that does not pass is logged and the next one still runs.
 *
 * Args: `[dir…] [--check CHECK] [--max N]` — module directories (default: every directory under src/); the check
 * each inner loop runs (lint, tests, types or a command; `{dir}` in it becomes the module's path; default tests);
 * iterations per module (default 5).
 * Ends: returns when every module's check passes; throws listing the modules that did not.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { CheckResult, Factory, LoopOutcome } from "pi-loop-factory";

export default async function perModule(factory: Factory, args: string[]) {
	const { dirs, check, max } = parseArgs(args);
	const outcomes: Record<string, LoopOutcome["reason"]> = {};
	factory.state.modules = outcomes;
	for (const [index, dir] of dirs.entries()) {
		factory.signal.throwIfAborted();
		factory.observe.phase(`module ${index + 1}/${dirs.length}: ${dir}`);
		const moduleCheck = check.replaceAll("{dir}", dir);
		const outcome = await factory.loop({
			check: moduleCheck,
			max,
			spawn: (iteration, last) => ({
				agent: "module-fixer",
				prompt: modulePrompt(dir, last),
				hydrate: `work in ${dir}`,
				step: `${dir}#${iteration}`,
			}),
		});
		outcomes[dir] = outcome.reason;
		const level = outcome.reason === "passed" ? "info" : "warning";
		factory.observe.log(level, `${dir}: ${outcome.reason} after ${outcome.iterations} iteration(s)`);
	}
	const failed = dirs.filter((dir) => outcomes[dir] !== "passed");
	factory.observe.metric("modules passed", dirs.length - failed.length);
	if (failed.length > 0) {
		throw new Error(`per-module: ${failed.length}/${dirs.length} module(s) not passing: ${failed.join(", ")}`);
	}
	return outcomes;
}

function modulePrompt(dir: string, last: CheckResult): string {
	return [
		`Work only inside ${dir}. \`${last.command}\` fails:`,
		last.failures.map((f) => `- ${f}`).join("\n"),
		"",
		last.output.slice(-3000),
		"",
		`Fix what belongs to ${dir}; leave other modules alone.`,
	].join("\n");
}

function parseArgs(args: string[]): { dirs: string[]; check: string; max: number } {
	let check = "tests";
	let max = 5;
	const dirs: string[] = [];
	for (let i = 0; i < args.length; i++) {
		const arg = args[i];
		const value = args[i + 1];
		if (arg === "--check") {
			if (value === undefined || value.trim() === "") throw new Error("per-module: --check needs a check or command");
			check = value;
			i++;
		} else if (arg === "--max") {
			max = Number(value);
			if (!Number.isInteger(max) || max < 1) {
				throw new Error(`per-module: --max needs a positive whole number, got "${value ?? ""}"`);
			}
			i++;
		} else if (arg.startsWith("--")) {
			throw new Error(`per-module: unknown flag ${arg}`);
		} else {
			if (!existsSync(resolve(arg)) || !statSync(resolve(arg)).isDirectory()) {
				throw new Error(`per-module: "${arg}" is not a directory`);
			}
			dirs.push(arg);
		}
	}
	return { dirs: dirs.length > 0 ? dirs : sourceDirs(), check, max };
}

/** The directories directly under src/, sorted so the order is the same on every run (and on resume). */
function sourceDirs(): string[] {
	if (!existsSync(resolve("src"))) throw new Error("per-module: no module dirs given and no src/ directory");
	const found = readdirSync(resolve("src"), { withFileTypes: true })
		.filter((entry) => entry.isDirectory())
		.map((entry) => join("src", entry.name))
		.sort();
	if (found.length === 0) throw new Error("per-module: src/ has no directories; name the module dirs as args");
	return found;
}
