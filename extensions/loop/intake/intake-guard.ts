/**
 * What an agent working a `/loop issues` task may not do, refused at the tool call (pure): push or call `gh` from
 * bash (the harness pushes the task's branch and opens the pull request), or write loop configuration and CI
 * workflows (`.pi/`, `.github/workflows/`). The folders where task agents work are registered process-wide by
 * run-intake.ts while they work (activeTaskDirs); the harness also leaves such paths out of the commit.
 */
import { relative, resolve } from "node:path";
import { processWide } from "../../shared/process-wide.ts";

/** The folders task agents of /loop issues work in right now (this pi process; every module instance). */
export function activeTaskDirs(): Set<string> {
	return processWide("intake-task-dirs", () => new Set<string>());
}
/** Within one command; a line continuation (`\` newline) does not end it. */
const PUSH = /\bgit\b(?:[^\n;&|]|\\\n)*\bpush\b/;
/** gh as a command word, also quoted (`bash -c 'gh …'`) or by path (`/usr/bin/gh`). */
const GH = /(^|[\s;&|(`$/"'])gh(\s|$|["'])/m;
/** Loop configuration and CI workflows, relative to the project: an agent of a task leaves them as they are. */
export const GUARDED_PATHS = [".pi", ".github/workflows"] as const;
const isGuarded = (rel: string) => GUARDED_PATHS.some((path) => rel === path || rel.startsWith(`${path}/`));

export function intakeToolBlock(
	cwd: string,
	toolName: string,
	input: Record<string, unknown>,
	active: ReadonlySet<string> = activeTaskDirs(),
): { block: true; reason: string } | undefined {
	if (!active.has(resolve(cwd))) return undefined;
	if (toolName === "bash" && typeof input.command === "string") {
		if (PUSH.test(input.command) || GH.test(input.command))
			return {
				block: true,
				reason:
					"in a /loop issues task the harness commits, pushes the task's branch and opens the pull request: " +
					"git push and gh are refused here. Finish the change in this checkout and stop.",
			};
		return undefined;
	}
	if ((toolName === "write" || toolName === "edit") && typeof input.path === "string") {
		const rel = relative(cwd, resolve(cwd, input.path.replace(/^@/, "")));
		if (isGuarded(rel))
			return {
				block: true,
				reason: `in a /loop issues task, loop configuration and CI workflows (${rel}) are not changed: leave it as it is`,
			};
	}
	return undefined;
}
