/**
 * Parsing and validation of `/loop` arguments.
 *
 * Pure: turns the raw argument string into a typed request or a UsageError
 * whose message says exactly what was wrong. Nothing here touches disk.
 */
import { type IntakeOptions, parseIntakeArgs } from "./intake/intake-args.ts";
import { DEFAULT_OPTIONS, type LoopOptions, type Preset } from "./types.ts";

/** Loop kinds started by name (a blueprint run, `/loop run`, has a request of its own). */
export type StartPreset = Exclude<Preset, "run">;
export const PRESETS: readonly StartPreset[] = ["until", "tests", "lint", "types", "plan", "build", "prd"];
/** Presets that loop on a check command (the others work through a plan or PRD checklist). */
export const CHECK_PRESETS: readonly Preset[] = ["until", "tests", "lint", "types"];
export const CONTROL_SUBCOMMANDS = ["status", "stop", "abort", "resume", "report", "help"] as const;

export type LoopRequest =
	| { kind: "start"; preset: StartPreset; check?: string; file?: string; goal?: string; options: LoopOptions }
	/** `/loop worktrees [prune]`: the loop's worktrees and branches; prune removes the merged ones. */
	| { kind: "worktrees"; prune: boolean }
	/** `/loop issues [flags]` and `/loop issue <n> [flags]`: tasks in, draft pull requests out (intake/). */
	| { kind: "intake"; one: boolean; args: string[]; options: IntakeOptions }
	/** `/loop run [file] [flags] [-- args]`; no file: list the blueprints. */
	| { kind: "run"; file?: string; args: string[]; options: LoopOptions }
	| { kind: "status" | "stop" | "abort" | "resume" | "help" }
	| { kind: "report"; runId?: string };

export class UsageError extends Error {}

interface FlagSpec {
	key: keyof LoopOptions;
	/** Absent for switches (flags without a value). */
	parse?: (value: string, flag: string) => number | string;
	help: string;
	/** Only these presets accept the flag (default: all). */
	only?: readonly Preset[];
}

const MAX_ITERATIONS_CAP = 1000;

function integer(min: number, max: number) {
	return (value: string, flag: string): number => {
		if (!/^\d+$/.test(value)) throw new UsageError(`${flag} expects a whole number, got "${value}"`);
		const n = Number(value);
		if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}, got ${n}`);
		return n;
	};
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `30s`, `5m`, `1h30m`, or a bare number of seconds. */
export function parseDuration(value: string, flag = "duration"): number {
	const text = value.trim();
	if (/^\d+(\.\d+)?$/.test(text)) return positiveDuration(Number(text) * 1000, value, flag);
	const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
	if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
		throw new UsageError(`${flag} expects a duration like 30s, 5m or 1h30m, got "${value}"`);
	}
	const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (DURATION_UNITS[p[2] as string] ?? 0), 0);
	return positiveDuration(ms, value, flag);
}

function positiveDuration(ms: number, value: string, flag: string): number {
	if (ms < 1) throw new UsageError(`${flag} must be longer than zero, got "${value}"`);
	return Math.round(ms);
}

function promiseText(value: string, flag: string): string {
	const text = value.trim();
	if (text === "") throw new UsageError(`${flag} expects non-empty text`);
	if (/[<>]/.test(text)) throw new UsageError(`${flag} text may not contain < or >, got "${value}"`);
	return text;
}

function roleName(value: string, flag: string): string {
	if (!/^[a-z][a-z0-9-]*$/.test(value))
		throw new UsageError(`${flag} expects a role name (lowercase letters, digits, dashes), got "${value}"`);
	return value;
}

function dollars(value: string, flag: string): number {
	const text = value.trim().replace(/^\$/, "");
	if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0)
		throw new UsageError(`${flag} expects an amount in dollars above zero, e.g. 2.50, got "${value}"`);
	return Number(text);
}

function nonEmpty(value: string, flag: string): string {
	if (value.trim() === "") throw new UsageError(`${flag} expects a file path`);
	return value;
}

export const FLAGS: Record<string, FlagSpec> = {
	"--max": { key: "max", parse: integer(1, MAX_ITERATIONS_CAP), help: "maximum iterations (default 10)" },
	"--stagnation": {
		key: "stagnation",
		parse: integer(1, 100),
		help: "iterations without progress before stopping (default 3)",
	},
	"--max-failures": {
		key: "maxFailures",
		parse: integer(1, 100),
		help: "consecutive agent errors before stopping (default 2)",
	},
	"--same-failure": {
		key: "sameFailure",
		parse: integer(2, 100),
		help: "identical failing checks in a row before stopping (default 5)",
	},
	"--timeout": { key: "timeoutMs", parse: parseDuration, help: "time limit for the whole loop, e.g. 30m" },
	"--check-timeout": {
		key: "checkTimeoutMs",
		parse: parseDuration,
		help: "time limit for one check run (default 10m)",
	},
	"--iteration-timeout": {
		key: "iterationTimeoutMs",
		parse: parseDuration,
		help: "time limit for one agent iteration (default 30m)",
	},
	"--prompt-file": { key: "promptFile", parse: nonEmpty, help: "file with custom iteration instructions" },
	"--promise": {
		key: "promise",
		parse: promiseText,
		help: "also require <promise>TEXT</promise> from the agent",
		only: CHECK_PRESETS,
	},
	"--no-commit": { key: "noCommit", help: "build/prd: do not commit finished items", only: ["build", "prd"] },
	"--role": { key: "role", parse: roleName, help: "model role for the iterations (default: plan or implement)" },
	"--review": {
		key: "review",
		help: "review each passing iteration on the review model first",
		only: ["build", "until"],
	},
	"--parallel": {
		key: "parallel",
		parse: integer(1, 16),
		help: "build/prd: items worked at once, each in its own git worktree (default 1)",
		only: ["build", "prd"],
	},
	"--concurrency": {
		key: "concurrency",
		parse: integer(1, 64),
		help: "run: agent spawns running at once; the rest queue (default 4)",
		only: ["run"],
	},
	"--max-spawns": {
		key: "maxSpawns",
		parse: integer(1, 10_000),
		help: "run: agent spawns allowed in the run (default 50)",
		only: ["run"],
	},
	"--max-cost": { key: "maxCost", parse: dollars, help: "run: dollars the run may spend, e.g. 2.50", only: ["run"] },
	"--spawn-timeout": {
		key: "iterationTimeoutMs",
		parse: parseDuration,
		help: "run: default time limit of one spawn (default 30m)",
		only: ["run"],
	},
	"--strict-models": {
		key: "strictModels",
		help: "run: a spawn's model that is unknown or has no API key is an error, not a fallback",
		only: ["run"],
	},
};

/** Flags of other kinds that blueprint runs take too. */
const RUN_FLAGS = ["--timeout", "--check-timeout", "--role"];

/** Splits like a POSIX shell: whitespace separates, quotes group, backslash escapes. */
export function tokenize(input: string): string[] {
	const tokens: string[] = [];
	let current = "";
	let inToken = false;
	let quote: '"' | "'" | null = null;
	for (let i = 0; i < input.length; i++) {
		const ch = input[i] as string;
		if (quote) {
			if (ch === quote) quote = null;
			else if (ch === "\\" && quote === '"' && i + 1 < input.length && /["\\$`]/.test(input[i + 1] as string))
				current += input[++i];
			else current += ch;
		} else if (ch === '"' || ch === "'") {
			quote = ch;
			inToken = true;
		} else if (ch === "\\" && i + 1 < input.length) {
			current += input[++i];
			inToken = true;
		} else if (/\s/.test(ch)) {
			if (inToken) tokens.push(current);
			current = "";
			inToken = false;
		} else {
			current += ch;
			inToken = true;
		}
	}
	if (quote) throw new UsageError(`unterminated ${quote} quote in: ${input}`);
	if (inToken) tokens.push(current);
	return tokens;
}

export const USAGE = [
	'/loop until "<command>" [flags] [-- <goal>]   loop until the command exits 0',
	"/loop tests | lint | types [flags] [-- <goal>]  loop on the detected project check",
	"/loop plan [flags]                             write/update IMPLEMENTATION_PLAN.md from specs/",
	"/loop build [--no-commit|--parallel N] [flags] implement the plan, one checked item per iteration",
	"/loop prd [file] [--no-commit] [flags]         work through a PRD's - [ ] items (default PRD.md)",
	"/loop run [blueprint] [flags] [-- args]         run a blueprint script (alone: list them)",
	"/loop worktrees [prune]                         isolated spawns' worktrees and branches; prune the merged",
	"/loop issues [flags] | issue <n> [flags]        labelled GitHub issues (or dir:<folder> tasks) to draft PRs",
	"/loop status | stop | abort | resume | report [run-id] | help",
	`flags: ${Object.keys(FLAGS).join(" ")}`,
].join("\n");

/** Splits at the first unquoted ` -- `: what follows is the goal, kept verbatim (quotes, apostrophes and all). */
export function splitGoal(raw: string): { head: string; goal?: string } {
	let quote: string | null = null;
	for (let i = 0; i < raw.length; i++) {
		const ch = raw[i] as string;
		if (quote) {
			if (ch === quote) quote = null;
			else if (ch === "\\" && quote === '"') i++;
		} else if (ch === '"' || ch === "'") quote = ch;
		else if (ch === "\\") i++;
		else if (
			ch === "-" &&
			raw.startsWith("--", i) &&
			(i === 0 || /\s/.test(raw[i - 1] as string)) &&
			(i + 2 === raw.length || /\s/.test(raw[i + 2] as string))
		) {
			const goal = raw.slice(i + 2).trim();
			return { head: raw.slice(0, i), goal: goal === "" ? undefined : goal };
		}
	}
	return { head: raw };
}

export function parseLoopArgs(raw: string): LoopRequest {
	const { head, goal } = splitGoal(raw);
	const tokens = tokenize(head);
	const sub = tokens[0];
	if (sub === undefined) throw new UsageError(`missing subcommand\n${USAGE}`);
	if ((PRESETS as readonly string[]).includes(sub)) return parseStart(sub as StartPreset, tokens.slice(1), goal);
	if (sub === "run") return parseRun(tokens.slice(1), goal);
	if (goal !== undefined) throw new UsageError(`/loop ${sub} takes no goal (nothing may follow --)`);
	if (sub === "issues" || sub === "issue") {
		const args = tokens.slice(1);
		try {
			return { kind: "intake", one: sub === "issue", args, options: parseIntakeArgs(args, sub === "issue") };
		} catch (error) {
			throw new UsageError((error as Error).message);
		}
	}
	if (sub === "worktrees") {
		if (tokens.length > 2 || (tokens[1] !== undefined && tokens[1] !== "prune"))
			throw new UsageError(`/loop worktrees takes nothing or "prune", got: ${tokens.slice(1).join(" ")}`);
		return { kind: "worktrees", prune: tokens[1] === "prune" };
	}
	if (sub === "report") {
		if (tokens.length > 2)
			throw new UsageError(`/loop report takes at most one run id, got: ${tokens.slice(1).join(" ")}`);
		return tokens[1] === undefined ? { kind: "report" } : { kind: "report", runId: tokens[1] };
	}
	if ((CONTROL_SUBCOMMANDS as readonly string[]).includes(sub)) {
		if (tokens.length > 1) throw new UsageError(`/loop ${sub} takes no arguments, got: ${tokens.slice(1).join(" ")}`);
		return { kind: sub as "status" | "stop" | "abort" | "resume" | "help" };
	}
	throw new UsageError(`unknown subcommand "${sub}"\n${USAGE}`);
}

/** Flags a kind accepts: those without `only`, or whose `only` names it; blueprint runs take RUN_FLAGS. */
export function flagsFor(preset: Preset): string[] {
	return Object.entries(FLAGS)
		.filter(([name, f]) => (f.only ? f.only.includes(preset) : preset !== "run" || RUN_FLAGS.includes(name)))
		.map(([name]) => name);
}

function parseFlags(preset: Preset, tokens: string[]): { options: LoopOptions; positionals: string[] } {
	const options: LoopOptions = { ...DEFAULT_OPTIONS };
	const seen = new Set<string>();
	const positionals: string[] = [];
	for (let i = 0; i < tokens.length; i++) {
		const token = tokens[i] as string;
		if (token.startsWith("--")) {
			const eq = token.indexOf("=");
			const flag = eq === -1 ? token : token.slice(0, eq);
			const spec = FLAGS[flag];
			const known = flagsFor(preset);
			if (!spec || !known.includes(flag))
				throw new UsageError(`unknown flag ${flag} for /loop ${preset} (known: ${known.join(", ")})`);
			if (seen.has(flag)) throw new UsageError(`${flag} given twice`);
			seen.add(flag);
			const target = options as unknown as Record<string, unknown>;
			if (!spec.parse) {
				if (eq !== -1) throw new UsageError(`${flag} takes no value`);
				target[spec.key] = true;
				continue;
			}
			const value = eq === -1 ? tokens[++i] : token.slice(eq + 1);
			if (value === undefined) throw new UsageError(`${flag} needs a value`);
			target[spec.key] = spec.parse(value, flag);
			continue;
		}
		positionals.push(token);
	}
	return { options, positionals };
}

function parseRun(tokens: string[], rest: string | undefined): LoopRequest {
	const { options, positionals } = parseFlags("run", tokens);
	if (positionals.length > 1)
		throw new UsageError(
			`/loop run takes one blueprint; script arguments go after --: /loop run ${positionals[0]} -- ${positionals
				.slice(1)
				.join(" ")}`,
		);
	const args = rest === undefined ? [] : tokenize(rest);
	if (positionals.length === 0 && (args.length > 0 || tokens.length > 0))
		throw new UsageError("/loop run: name the blueprint to run (/loop run alone lists them)");
	return { kind: "run", file: positionals[0], args, options };
}

function parseStart(preset: StartPreset, tokens: string[], goal: string | undefined): LoopRequest {
	const { options, positionals } = parseFlags(preset, tokens);
	if (preset === "until") {
		if (positionals.length === 0)
			throw new UsageError('/loop until needs a check command, e.g. /loop until "npm test" --max 5');
		if (positionals.length > 1) {
			throw new UsageError(
				`/loop until takes one command; quote it when it has spaces: /loop until "${positionals.join(" ")}"`,
			);
		}
		const check = (positionals[0] as string).trim();
		if (check === "") throw new UsageError("/loop until: the check command is empty");
		return { kind: "start", preset, check, goal, options };
	}
	if (preset === "prd") {
		if (positionals.length > 1) throw new UsageError(`/loop prd takes one PRD file, got: ${positionals.join(" ")}`);
		if (goal !== undefined) throw new UsageError("/loop prd takes no goal: the PRD's items are the goals");
		return { kind: "start", preset, file: positionals[0], options };
	}
	if (preset === "plan" || preset === "build") {
		if (positionals.length > 0)
			throw new UsageError(`/loop ${preset} takes no arguments besides flags; unexpected: ${positionals.join(" ")}`);
		if (goal !== undefined) throw new UsageError(`/loop ${preset} takes no goal: it works from the specs and the plan`);
		return { kind: "start", preset, options };
	}
	if (positionals.length > 0)
		throw new UsageError(`/loop ${preset} takes no command (it is detected); unexpected: ${positionals.join(" ")}`);
	return { kind: "start", preset, goal, options };
}
