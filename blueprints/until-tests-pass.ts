/**
 * until-tests-pass: the shortest blueprint — one `factory.loop` over the project's test check, with the runner's
 * own stop rules (stagnation, same failure, agent failures) guarding it.
 *
 * Args: `[--max N] [goal words…]` — N iterations at most (default 10); the goal text replaces the default task.
 * Ends: returns when the tests pass; throws with the loop's end reason otherwise.
 */
import type { Factory } from "pi-loop-factory";

const DEFAULT_GOAL = "Make the failing tests pass by fixing the code under test; change a test only when it is wrong.";

export default async function untilTestsPass(factory: Factory, args: string[]) {
	const { max, goal } = parseArgs(args);
	factory.observe.phase("tests");
	const outcome = await factory.loop({ check: "tests", prompt: goal, max });
	factory.observe.metric("iterations", outcome.iterations);
	const summary = `${outcome.reason} after ${outcome.iterations} iteration(s)`;
	if (outcome.reason !== "passed") {
		const why = outcome.last.noTests ?? `${outcome.last.failures.length} failure(s) left`;
		factory.observe.log("error", `tests not passing: ${summary}`, { failures: outcome.last.failures });
		throw new Error(`tests still failing: ${summary} (${why})`);
	}
	factory.observe.log("info", `tests pass: ${summary}`);
	return outcome;
}

function parseArgs(args: string[]): { max: number; goal: string } {
	let max = 10;
	const words: string[] = [];
	for (let i = 0; i < args.length; i++) {
		if (args[i] !== "--max") {
			if (args[i].startsWith("--")) throw new Error(`until-tests-pass: unknown flag ${args[i]}`);
			words.push(args[i]);
			continue;
		}
		max = Number(args[++i]);
		if (!Number.isInteger(max) || max < 1) {
			throw new Error(`until-tests-pass: --max needs a positive whole number, got "${args[i] ?? ""}"`);
		}
	}
	return { max, goal: words.length > 0 ? words.join(" ") : DEFAULT_GOAL };
}
