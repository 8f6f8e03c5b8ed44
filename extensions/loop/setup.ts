/**
 * Turns a /loop start request into what the engine needs: the check command
 * (given, detected, or the project's combined checks), the work state of
 * plan/build/prd loops, and — also for resumed runs — the workflow.
 */
import { existsSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { type CheckKind, detectCheck } from "../core/detect-checks.ts";
import { sharedSpecIndex } from "../hydrate/spec-index.ts";
import type { LoopConfig } from "../shared/config.ts";
import type { LoopRequest } from "./args.ts";
import { type ChecklistItem, duplicateOpenItems } from "./checklist.ts";
import type { Workflow } from "./engine.ts";
import type { LoopPaths } from "./store.ts";
import type { LoopState, WorkState } from "./types.ts";
import { buildLoop } from "./workflows/build-loop.ts";
import { checkLoop } from "./workflows/check-loop.ts";
import type { CommitMessageWriter } from "./workflows/commit-message.ts";
import { planLoop } from "./workflows/plan-loop.ts";
import { PlanTasks, PrdTasks } from "./workflows/tasks.ts";

export class SetupError extends Error {}

type StartRequest = Extract<LoopRequest, { kind: "start" }>;

/** The project's checks for build loops: configured ones, else every detected one, joined with &&. */
export function projectChecks(cwd: string, config: LoopConfig): { check: string; source: string } {
	const kinds: CheckKind[] = ["tests", "lint", "types"];
	const configured = kinds.map((k) => config.checks[k]).filter((c): c is string => c !== undefined);
	if (configured.length > 0) return { check: configured.join(" && "), source: ".pi/loop.json checks" };
	const found: { command: string; source: string }[] = [];
	const misses: string[] = [];
	for (const kind of kinds) {
		try {
			found.push(detectCheck(cwd, kind));
		} catch (error) {
			misses.push((error as Error).message);
		}
	}
	if (found.length === 0) {
		throw new SetupError(
			`build loops verify each item with the project's checks, and none were found. ${misses[0] ?? ""} ` +
				'Or set "checks" in .pi/loop.json.',
		);
	}
	return { check: found.map((f) => f.command).join(" && "), source: found.map((f) => f.source).join(", ") };
}

export function resolveCheck(
	cwd: string,
	request: StartRequest,
	config: LoopConfig,
): { check: string; source: string } {
	switch (request.preset) {
		case "until":
			return { check: request.check as string, source: "given on the command line" };
		case "plan":
			return { check: "", source: "none (plan loops end when the plan is stable)" };
		case "build":
		case "prd":
			return projectChecks(cwd, config);
		default:
			try {
				const found = detectCheck(cwd, request.preset);
				return { check: found.command, source: found.source };
			} catch (error) {
				throw new SetupError((error as Error).message);
			}
	}
}

function projectPath(cwd: string, file: string): string {
	const full = isAbsolute(file) ? file : resolve(cwd, file);
	const rel = relative(cwd, full);
	if (rel.startsWith("..") || isAbsolute(rel))
		throw new SetupError(`${file} is outside the project; loops only work on files inside ${cwd}`);
	return rel;
}

function assertUnique(file: string, items: ChecklistItem[]): void {
	const duplicates = duplicateOpenItems(items);
	if (duplicates.length > 0)
		throw new SetupError(
			`${file} has open items with the same text, which the loop cannot tell apart: ` +
				`"${duplicates.join('", "')}"; make each item's text unique`,
		);
}

export function tasksFile(paths: LoopPaths): string {
	return join(paths.root, "tasks.json");
}

/** Work state for plan/build/prd loops (validating their files); undefined for check loops. */
export function initialWork(
	cwd: string,
	request: StartRequest,
	config: LoopConfig,
	paths: LoopPaths,
): WorkState | undefined {
	const base = { attempts: {}, done: [], blocked: [], commit: !request.options.noCommit && config.build.commit };
	if (request.preset === "plan")
		return { ...base, source: "plan", file: config.paths.plan, commit: false, specsDir: config.paths.specs };
	if (request.preset === "build") {
		if (!existsSync(join(cwd, config.paths.plan)))
			throw new SetupError(`no ${config.paths.plan} in this project; write one, or run /loop plan first`);
		const items = new PlanTasks(cwd, config.paths.plan).items();
		if (items.length === 0) throw new SetupError(`${config.paths.plan} has no "- [ ]" checklist items to build`);
		assertUnique(config.paths.plan, items);
		return { ...base, source: "plan", file: config.paths.plan };
	}
	if (request.preset === "prd") {
		const file = projectPath(cwd, request.file ?? config.paths.prd);
		if (!existsSync(join(cwd, file))) throw new SetupError(`PRD file ${file} does not exist`);
		const prd = new PrdTasks(cwd, file, tasksFile(paths));
		if (prd.items().length === 0) throw new SetupError(`${file} has no "- [ ]" items to work through`);
		assertUnique(file, prd.items());
		return { ...base, source: "prd", file };
	}
	return undefined;
}

/** First steps of a fresh run, taken under the lock: PRD items are mirrored into tasks.json. */
export function startWork(state: LoopState, cwd: string, paths: LoopPaths): void {
	if (state.work?.source === "prd") new PrdTasks(cwd, state.work.file, tasksFile(paths)).sync();
}

export function defaultGoalFor(request: StartRequest, work: WorkState | undefined): string | undefined {
	if (request.preset === "plan") return `Write or update ${work?.file} from the specs`;
	if (request.preset === "build" || request.preset === "prd")
		return `Implement every open item of ${work?.file}, each verified by the project's checks`;
	return undefined;
}

/** The workflow of a (new or resumed) run. */
export function workflowFor(
	state: LoopState,
	cwd: string,
	config: LoopConfig,
	paths: LoopPaths,
	commitMessage?: CommitMessageWriter,
): Workflow {
	const work = state.work;
	if (!work) return checkLoop(config.review.rounds);
	if (state.preset === "plan") {
		const index = sharedSpecIndex(cwd, config.paths.specs);
		return planLoop({
			cwd,
			planFile: work.file,
			specsDir: config.paths.specs,
			instructions: state.instructions ?? "",
			listSpecs: () => {
				index.refresh();
				return index.paths();
			},
		});
	}
	const tasks = work.source === "prd" ? new PrdTasks(cwd, work.file, tasksFile(paths)) : new PlanTasks(cwd, work.file);
	return buildLoop({
		cwd,
		tasks,
		instructions: state.instructions ?? "",
		attempts: config.build.attempts,
		progressFile: config.paths.progress,
		ending: work.source === "prd" ? "prd-complete" : "plan-complete",
		commitMessage,
		reviewRounds: config.review.rounds,
	});
}
