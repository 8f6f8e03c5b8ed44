/**
 * Argument autocompletion for /loop: subcommands first, then flags for the
 * loop-starting subcommands, and run ids for /loop report. Pure.
 */
import { CONTROL_SUBCOMMANDS, FLAGS, flagsFor, PRESETS } from "./args.ts";
import type { Preset } from "./types.ts";

export interface Completion {
	value: string;
	label: string;
	description?: string;
}

const SUBCOMMAND_HELP: Record<string, string> = {
	until: 'loop until a command exits 0: until "npm test"',
	tests: "loop until the detected test command passes",
	lint: "loop until the detected linter passes",
	types: "loop until the detected type check passes",
	plan: "write or update IMPLEMENTATION_PLAN.md from specs/ until it is stable",
	build: "implement the plan one verified, committed item per iteration",
	prd: "work through a PRD file's - [ ] items: /loop prd PRD.md",
	worktrees: "worktrees and branches of isolated spawns: /loop worktrees prune removes the merged ones",
	run: "run a blueprint script: /loop run lint-fixer, /loop run .pi/blueprints/x.ts -- args",
	issues: "labelled GitHub issues (or --source dir:<folder> tasks) to draft pull requests: /loop issues --limit 3",
	issue: "one issue to a draft pull request: /loop issue 12",
	status: "show the active or last run",
	stop: "end the running loop after the current iteration",
	abort: "end the running loop now",
	resume: "continue an interrupted run",
	report: "show a run's report",
	help: "show usage",
};

/** Completions for the text typed after `/loop `; each value is the whole new argument text. */
export function completeLoopArgs(
	text: string,
	runIds: () => string[],
	blueprints: () => { name: string; summary?: string }[] = () => [],
): Completion[] | null {
	const words = text.split(/\s+/);
	if (words.length <= 1) {
		const prefix = words[0] ?? "";
		const items = [...PRESETS, "run", "worktrees", "issues", "issue", ...CONTROL_SUBCOMMANDS]
			.filter((s) => s.startsWith(prefix))
			.map((s) => ({ value: `${s} `, label: s, description: SUBCOMMAND_HELP[s] }));
		return items.length > 0 ? items : null;
	}
	const sub = words[0] as string;
	const last = words.at(-1) as string;
	const head = text.slice(0, text.length - last.length);
	if (sub === "report" && words.length === 2) {
		const items = runIds()
			.filter((id) => id.startsWith(last))
			.map((id) => ({ value: `${head}${id}`, label: id }));
		return items.length > 0 ? items : null;
	}
	if (sub === "run" && words.length === 2 && !last.startsWith("-")) {
		const items = blueprints()
			.filter((b) => b.name.startsWith(last))
			.map((b) => ({ value: `${head}${b.name} `, label: b.name, description: b.summary }));
		return items.length > 0 ? items : null;
	}
	const kinds: readonly string[] = [...PRESETS, "run"];
	if (!kinds.includes(sub) || !last.startsWith("-") || text.includes(" -- ")) return null;
	const allowed = flagsFor(sub as Preset);
	const items = Object.entries(FLAGS)
		.filter(([flag]) => flag.startsWith(last) && !words.slice(1, -1).includes(flag) && allowed.includes(flag))
		.map(([flag, spec]) => ({ value: `${head}${flag} `, label: flag, description: spec.help }));
	return items.length > 0 ? items : null;
}
