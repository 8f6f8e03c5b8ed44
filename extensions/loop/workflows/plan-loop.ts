/**
 * Plan loops: each iteration compares the specs with the code and writes or
 * updates the plan file (only the plan and new spec files may be written; see
 * plan-guard.ts). The run ends plan-stable when an iteration leaves the plan
 * exactly as it was.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { RunContext, Workflow } from "../engine.ts";
import type { WorkState } from "../types.ts";

export interface PlanOptions {
	cwd: string;
	planFile: string;
	specsDir: string;
	instructions: string;
	listSpecs: () => string[];
}

function planHash(cwd: string, file: string): string {
	const path = join(cwd, file);
	return existsSync(path) ? createHash("sha256").update(readFileSync(path)).digest("hex") : "absent";
}

export function planLoop(options: PlanOptions): Workflow {
	const work = (run: RunContext) => run.state.work as WorkState;
	return {
		async begin(run) {
			work(run).planHash = planHash(options.cwd, options.planFile);
			run.save();
			return undefined;
		},
		async prepare(run, n) {
			const specs = options.listSpecs();
			const exists = existsSync(join(options.cwd, options.planFile));
			const prompt = [
				`# Planning iteration ${n} of ${run.state.options.max}`,
				"",
				`Plan file: \`${options.planFile}\` (${exists ? "exists — update it" : "does not exist yet — create it"}).`,
				`Specs (${specs.length}): ${specs.length > 0 ? specs.join(", ") : `none found in ${options.specsDir}/`}`,
				"While planning you may write only the plan file and new spec files; other writes are blocked.",
				"",
				"## Instructions",
				options.instructions,
			].join("\n");
			return { prompt, task: `Plan the implementation of these specs against the code: ${specs.join(" ")}` };
		},
		async finish(run, record) {
			const before = work(run).planHash;
			const after = planHash(options.cwd, options.planFile);
			if (record.agent === "ok" && before === after && after !== "absent") {
				return { reason: "plan-stable", detail: `iteration ${record.n} left ${options.planFile} unchanged` };
			}
			work(run).planHash = after;
			run.save();
			return undefined;
		},
	};
}
