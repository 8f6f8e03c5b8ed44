/**
 * The arguments of `/loop issues` and `/loop issue <number>` (pure): which queue, how many tasks, the base branch,
 * the limits per task, and what to do on failure. Bad input is an IntakeUsageError naming the flag (exit 2).
 */

export interface IntakeOptions {
	/** One task (`/loop issue <n>`), else the queue. */
	issue?: number;
	repo?: string;
	/** `dir:<folder>`: task files instead of GitHub. */
	source?: string;
	label: string;
	/** Tasks taken (claimed) at most. */
	limit: number;
	base?: string;
	/** Iterations per task. */
	max: number;
	/** Dollars per task. */
	maxCost?: number;
	review: boolean;
	/** Tasks worked at once. */
	parallel: number;
	dryRun: boolean;
	prOnFailure: boolean;
	/** What decides "done": a named check or a command (default: the project's tests). */
	check: string;
	remote: string;
}

/** A usage or configuration error: the run ends with exit 2 (its name is what the blueprint runner looks at). */
export class IntakeUsageError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "UsageError";
	}
}

export const INTAKE_USAGE =
	"/loop issues [--repo owner/name] [--label loop] [--limit N] [--base <branch>] [--max N] [--max-cost $] " +
	"[--review] [--parallel N] [--dry-run] [--pr-on-failure] [--check tests|lint|types|COMMAND] [--remote origin] " +
	"[--source dir:<folder>]\n/loop issue <number> [the same flags but --label, --limit and --parallel]";

const SWITCHES = { "--review": "review", "--dry-run": "dryRun", "--pr-on-failure": "prOnFailure" } as const;
const VALUED = [
	"--repo",
	"--source",
	"--label",
	"--limit",
	"--parallel",
	"--max",
	"--max-cost",
	"--base",
	"--remote",
	"--check",
];

function whole(flag: string, value: string, min: number, max: number): number {
	if (!/^\d+$/.test(value)) throw new IntakeUsageError(`${flag} expects a whole number, got "${value}"`);
	const n = Number(value);
	if (n < min || n > max) throw new IntakeUsageError(`${flag} must be between ${min} and ${max}, got ${n}`);
	return n;
}

/** `args` of `/loop issues` (issue undefined) or `/loop issue` (the number first). */
export function parseIntakeArgs(args: string[], one: boolean): IntakeOptions {
	const o: IntakeOptions = {
		label: "loop",
		limit: 1,
		max: 10,
		review: false,
		parallel: 1,
		dryRun: false,
		prOnFailure: false,
		check: "tests",
		remote: "origin",
	};
	const seen = new Set<string>();
	const rest = [...args];
	if (one) {
		const n = rest.shift();
		if (n === undefined || n.startsWith("--"))
			throw new IntakeUsageError(`/loop issue needs an issue number\n${INTAKE_USAGE}`);
		o.issue = whole("the issue number", n.replace(/^#/, ""), 1, Number.MAX_SAFE_INTEGER);
	}
	for (let i = 0; i < rest.length; i++) {
		const token = rest[i] as string;
		const eq = token.indexOf("=");
		const flag = eq === -1 ? token : token.slice(0, eq);
		if (!flag.startsWith("--")) throw new IntakeUsageError(`unexpected "${token}"\n${INTAKE_USAGE}`);
		if (seen.has(flag)) throw new IntakeUsageError(`${flag} given twice`);
		seen.add(flag);
		if (one && ["--label", "--limit", "--parallel"].includes(flag))
			throw new IntakeUsageError(`${flag} is for /loop issues, not /loop issue <number>`);
		if (flag in SWITCHES) {
			if (eq !== -1) throw new IntakeUsageError(`${flag} takes no value`);
			o[SWITCHES[flag as keyof typeof SWITCHES]] = true;
			continue;
		}
		if (!VALUED.includes(flag)) throw new IntakeUsageError(`unknown flag ${flag}\n${INTAKE_USAGE}`);
		const value = eq === -1 ? rest[++i] : token.slice(eq + 1);
		// the next flag is not a value: `--check --dry-run` must not run for real with "--dry-run" as the check
		if (value === undefined || value.trim() === "" || (eq === -1 && value.startsWith("--")))
			throw new IntakeUsageError(`${flag} needs a value`);
		switch (flag) {
			case "--repo":
				if (!/^[\w.-]+\/[\w.-]+$/.test(value)) throw new IntakeUsageError(`--repo expects owner/name, got "${value}"`);
				o.repo = value;
				break;
			case "--source":
				if (!/^dir:.+/.test(value)) throw new IntakeUsageError(`--source expects dir:<folder>, got "${value}"`);
				o.source = value;
				break;
			case "--label":
				// GitHub matches label names regardless of case: Loop:failed is loop:failed
				if (/[,\s]/.test(value) || value.toLowerCase().startsWith("loop:"))
					throw new IntakeUsageError(`--label expects one label name (not a loop: state), got "${value}"`);
				o.label = value;
				break;
			case "--limit":
				o.limit = whole(flag, value, 1, 100);
				break;
			case "--parallel":
				o.parallel = whole(flag, value, 1, 16);
				break;
			case "--max":
				o.max = whole(flag, value, 1, 1000);
				break;
			case "--max-cost": {
				const dollars = Number(value.replace(/^\$/, ""));
				if (!Number.isFinite(dollars) || dollars <= 0)
					throw new IntakeUsageError(`--max-cost expects dollars above 0, like 2.50, got "${value}"`);
				o.maxCost = dollars;
				break;
			}
			case "--base":
			case "--remote":
				if (value.startsWith("-") || /[\s~^:?*[\\]|\.\.|@\{/.test(value))
					throw new IntakeUsageError(
						`${flag} expects a ${flag === "--base" ? "branch" : "remote"} name, got "${value}"`,
					);
				o[flag === "--base" ? "base" : "remote"] = value;
				break;
			case "--check":
				o.check = value;
				break;
			default:
				throw new IntakeUsageError(`unknown flag ${flag}\n${INTAKE_USAGE}`);
		}
	}
	if (o.source && o.repo) throw new IntakeUsageError("--repo is for GitHub; leave it out with --source dir:<folder>");
	if (o.parallel > o.limit) o.parallel = o.limit;
	return o;
}
