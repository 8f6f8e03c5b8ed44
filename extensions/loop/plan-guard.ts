/**
 * During /loop plan iterations the agent may write only the plan file and new
 * spec files. Self-contained (reads state.json directly) because it runs on
 * every write/edit call in every session and must stay cheap to load.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";

interface PlanRun {
	status?: string;
	preset?: string;
	pid?: number;
	work?: { file?: string; specsDir?: string };
}

function activePlanRun(cwd: string): PlanRun | undefined {
	try {
		const state = JSON.parse(readFileSync(join(cwd, ".pi", "loop", "state.json"), "utf8")) as PlanRun;
		return state.status === "running" && state.preset === "plan" && state.pid === process.pid ? state : undefined;
	} catch {
		return undefined;
	}
}

/** A block result when a running plan loop of this process forbids writing `path`. */
export function planWriteBlock(
	cwd: string,
	toolName: string,
	path: unknown,
): { block: true; reason: string } | undefined {
	if (toolName !== "write" && toolName !== "edit") return undefined;
	const run = activePlanRun(cwd);
	if (!run || typeof path !== "string") return undefined;
	const plan = run.work?.file ?? "IMPLEMENTATION_PLAN.md";
	const specs = (run.work?.specsDir ?? "specs").replace(/\/$/, "");
	const full = resolve(cwd, path.replace(/^@/, ""));
	const rel = relative(cwd, full);
	if (rel === plan) return undefined;
	const isNewSpec =
		toolName === "write" &&
		!rel.startsWith("..") &&
		!isAbsolute(rel) &&
		rel.startsWith(`${specs}/`) &&
		rel.endsWith(".md") &&
		!existsSync(full);
	if (isNewSpec) return undefined;
	return {
		block: true,
		reason:
			`planning loop: only ${plan} and new spec files under ${specs}/ may be written; ${rel} was not changed. ` +
			"Record the work as a plan item instead.",
	};
}
