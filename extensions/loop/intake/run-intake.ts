/**
 * `/loop issues` and `/loop issue <n>`, run as a blueprint (the runner's state, journal, limits, report, exit codes):
 * take labelled tasks oldest first, claim each across machines by creating its branch on the remote (create-only),
 * work it in a worktree of that branch with a `factory.loop` until the check passes, push the branch, and open a
 * draft pull request — or, on failure, push anyway, comment and label. Never merges, closes, force-pushes or pushes
 * to the base branch. `summary.json` in the run's folder has each task's outcome.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Factory, LoopOutcome, SpawnResult } from "../../core/factory-api.ts";
import { GitError, git, runGit } from "../../core/git.ts";
import { issueBranch } from "../../core/github.ts";
import { claimBranch, pushBranch } from "../../core/remote-claim.ts";
import { commitWorktree, createDetachedWorktree, readWorktrees, removeCleanWorktree } from "../../core/worktrees.ts";
import { dirSource } from "./dir-source.ts";
import { githubSource } from "./github-source.ts";
import { type IntakeOptions, IntakeUsageError, parseIntakeArgs } from "./intake-args.ts";
import {
	checklistItems,
	checklistTurn,
	claimComment,
	failureComment,
	pullRequestBody,
	releaseComment,
	type TaskWork,
	taskPrompt,
} from "./intake-texts.ts";
import type { IntakeTask, TaskSource } from "./task-source.ts";

/** One task's line in summary.json. */
export interface TaskSummary {
	number: number;
	title: string;
	/** pr-open: delivered; failed: worked, did not pass (branch pushed); error: gh/git failed, claim released;
	 * taken: another worker had claimed it; skipped: a loop state label or an open pull request already. */
	outcome: "pr-open" | "delivered" | "failed" | "error" | "taken" | "skipped" | "would-take";
	branch: string;
	pr?: string;
	iterations: number;
	cost: number;
	detail?: string;
}

/** Paths the agent may not change in a task's branch: loop configuration and CI workflows. */
const GUARDED = [".pi", ".github/workflows"];

export default async function runIntake(factory: Factory, args: string[]): Promise<TaskSummary[]> {
	const one = args[0] === "--one";
	const options = parseIntakeArgs(one ? args.slice(1) : args, one);
	const where = await factory.exec("pwd -P && git rev-parse --show-toplevel");
	const [project = "", repoRoot = ""] = where.stdout.trim().split("\n");
	if (where.exitCode !== 0 || repoRoot === "")
		throw new IntakeUsageError(`/loop issues works in a git repository: ${where.output.trim()}`);
	let source: TaskSource & { problems?: readonly { file: string; reason: string }[] };
	try {
		source = options.source
			? dirSource(project, options.source.slice("dir:".length))
			: githubSource(options.repo, { cwd: project });
	} catch (error) {
		throw new IntakeUsageError(`--source ${options.source}: ${(error as Error).message}`);
	}
	const summaries: TaskSummary[] = [];
	const summaryFile = join(project, ".pi", "loop", "runs", factory.runId, "summary.json");
	const save = () => {
		mkdirSync(resolve(summaryFile, ".."), { recursive: true });
		writeFileSync(
			summaryFile,
			`${JSON.stringify({ runId: factory.runId, source: source.name, tasks: summaries }, null, 2)}\n`,
		);
		factory.state.tasks = summaries;
	};
	// A summary of this run already there: the run is resumed (/loop resume), and its own claims are taken up again.
	const resumed = existsSync(summaryFile);
	save();
	try {
		await source.check();
	} catch (error) {
		throw new IntakeUsageError(`${source.name}: ${(error as Error).message}`);
	}
	const remote = (await runGit(repoRoot, ["remote", "get-url", options.remote])).code;
	if (remote !== 0) throw new IntakeUsageError(`no git remote "${options.remote}" in ${repoRoot} (--remote names it)`);
	const base = options.base ?? (await source.defaultBase());
	const candidates = await candidatesOf(source, options);
	factory.observe.log("info", `${source.name}: ${candidates.length} candidate task(s) on ${base}`);
	for (const problem of source.problems ?? [])
		factory.observe.log("warning", `${source.name}: ${problem.file} is not read as a task: ${problem.reason}`);

	let taken = 0;
	const queue = [...candidates];
	const worker = async () => {
		for (let task = queue.shift(); task && taken < options.limit; task = queue.shift()) {
			const branch = issueBranch(task.number, task.title);
			const summary: TaskSummary = {
				number: task.number,
				title: task.title,
				outcome: "skipped",
				branch,
				iterations: 0,
				cost: 0,
			};
			summaries.push(summary);
			const state = task.labels.find((label) => label.startsWith("loop:"));
			// On resume a loop:claimed task may be this run's own: the claim below tells (taken by this run id).
			if (state && !(resumed && state === "loop:claimed")) summary.detail = `it has the label ${state}`;
			else if (await source.delivered(branch)) summary.detail = `a pull request from ${branch} is open`;
			else if (options.dryRun) {
				summary.outcome = "would-take";
				taken++;
			} else {
				taken++; // counted before the claim's await, so --parallel workers do not overshoot --limit
				const claimed = await claim(factory, options, repoRoot, base, task, branch, summary);
				if (claimed) await work(factory, options, { source, repoRoot, base, task, branch, ...claimed, summary });
				else taken--;
			}
			factory.observe.log("info", `#${task.number} ${summary.outcome}${summary.detail ? `: ${summary.detail}` : ""}`);
			save();
		}
	};
	await Promise.all(Array.from({ length: options.parallel }, worker));
	save();
	const bad = summaries.filter((s) => s.outcome === "failed" || s.outcome === "error");
	if (bad.length > 0)
		throw new Error(
			`${bad.length} task(s) not delivered: ${bad.map((s) => `#${s.number} ${s.outcome}: ${s.detail}`).join("; ")}`,
		);
	if (summaries.every((s) => s.outcome !== "pr-open" && s.outcome !== "delivered"))
		factory.observe.log("info", "nothing to do: no task was taken");
	return summaries;
}

/** The tasks to consider, in order: one by number, or the labelled open ones oldest first. */
async function candidatesOf(source: TaskSource, options: IntakeOptions): Promise<IntakeTask[]> {
	if (options.issue === undefined) return source.list(options.label, Math.min(100, options.limit + 30));
	const task = await source.get(options.issue);
	if (!task.open) throw new IntakeUsageError(`task #${task.number} is closed`);
	return [task];
}

/** Claims the task's branch on the remote; the claim commit, or undefined (taken, or failed: the summary says). */
async function claim(
	factory: Factory,
	options: IntakeOptions,
	repoRoot: string,
	base: string,
	task: IntakeTask,
	branch: string,
	summary: TaskSummary,
): Promise<{ claim: string; again: boolean } | undefined> {
	const subject = `task #${task.number}`;
	const outcome = await claimBranch(repoRoot, { remote: options.remote, branch, base, runId: factory.runId, subject });
	if (outcome.status === "claimed") return { claim: outcome.commit, again: false };
	if (outcome.status === "taken" && outcome.by === factory.runId) {
		// A resumed run: the claim is this run's own.
		const tip = await runGit(repoRoot, ["ls-remote", "--heads", options.remote, `refs/heads/${branch}`]);
		const commit = tip.stdout.split("\t")[0]?.trim();
		if (commit) {
			await runGit(repoRoot, ["fetch", "--quiet", "--no-tags", options.remote, commit]);
			return { claim: commit, again: true };
		}
	}
	summary.outcome = outcome.status === "taken" ? "taken" : "error";
	summary.detail =
		outcome.status === "taken" ? `claimed already${outcome.by ? ` by run ${outcome.by}` : ""}` : outcome.detail;
	return undefined;
}

interface Job {
	source: TaskSource;
	repoRoot: string;
	base: string;
	task: IntakeTask;
	branch: string;
	/** The branch's tip on the remote: the claim commit (or the work pushed on it, when taken up again). */
	claim: string;
	/** This run's own claim, taken up again on resume: its worktree may hold the work so far. */
	again: boolean;
	summary: TaskSummary;
}

/** Works one claimed task to a pushed branch and a delivery or a failure report; gh/git errors release it. */
async function work(factory: Factory, options: IntakeOptions, job: Job): Promise<void> {
	const { source, repoRoot, base, task, branch, summary } = job;
	let stage = "labelling the task claimed";
	try {
		await source.mark(task, { add: "loop:claimed" });
		stage = "commenting on the task";
		if (!job.again) await source.comment(task, claimComment(factory.runId, branch));
		stage = "making its worktree";
		const name = `task-${task.number}`;
		const left = job.again
			? readWorktrees(repoRoot).find((r) => r.branch === branch && r.state === "active")
			: undefined;
		const record =
			left && existsSync(left.path)
				? left
				: await createDetachedWorktree(repoRoot, factory.runId, name, branch, job.claim);
		const spawns: SpawnResult[] = [];
		const spawn = async (options_: Parameters<Factory["spawn"]>[0]) => {
			const spent = spawns.reduce((sum, s) => sum + s.cost, 0);
			if (options.maxCost !== undefined && spent >= options.maxCost)
				throw new Error(`--max-cost $${options.maxCost} for task #${task.number} is spent ($${spent.toFixed(2)})`);
			const result = await factory.spawn(options_);
			spawns.push(result);
			return result;
		};
		const prompt = taskPrompt(task, source.name, base);
		stage = "working it";
		// The agent works once whatever the check says (a task may ask for more than the check tests) — once per
		// item when the task is a `- [ ]` checklist — then the loop runs fix rounds until the check passes or
		// --max iterations in all are spent.
		const taskSpawn = (n: number, extra = "") =>
			spawn({
				agent: "task",
				prompt: `${prompt}${extra}`,
				cwd: record.path,
				hydrate: `${task.title}\n${task.body}`,
				gates: "all",
				step: `#${task.number}.${n}`,
			});
		const items = checklistItems(task.body);
		let outcome: LoopOutcome | undefined;
		let why: string | undefined;
		try {
			if (items > options.max)
				throw new Error(`the task's checklist has ${items} items, more than --max ${options.max} iterations`);
			const passes = Math.max(1, items);
			for (let i = 1; i <= passes; i++) {
				const turn = items === 0 ? "" : `\n\n${checklistTurn(i, items)}`;
				const pass = await taskSpawn(i, turn);
				if (pass.exitCode !== 0) throw new Error(`the agent failed: ${pass.errorMessage ?? pass.stopReason}`);
			}
			const rounds = await factory.loop({
				check: options.check,
				cwd: record.path,
				max: Math.max(1, options.max - passes),
				spawn: (n, last) =>
					options.max <= passes
						? Promise.reject(new Error(`the check fails after --max ${options.max} iteration(s)`))
						: taskSpawn(
								n + passes,
								`\n\nThe check \`${last.command}\` fails; its output ends:\n\n${last.output.slice(-3000)}`,
							),
			});
			outcome = { ...rounds, iterations: rounds.iterations + passes };
		} catch (error) {
			why = (error as Error).message;
		}
		// Without a loop outcome (the agent failed, the cost limit), the check says where the work stands.
		const last = outcome?.last ?? (await factory.check(options.check, { cwd: record.path }).catch(() => undefined));
		let review: string | undefined;
		if (outcome?.reason === "passed" && options.review) {
			const verdict = await spawn({
				agent: "review",
				role: "review",
				cwd: record.path,
				prompt:
					`Review the uncommitted changes in this checkout (git diff) for task #${task.number}:\n\n${prompt}\n\n` +
					"Say what is wrong or missing, or that it is fine.",
				step: `#${task.number} review`,
			});
			review = verdict.text;
		}
		stage = "committing";
		const dropped = await dropGuarded(record.path);
		const committed = await commitWorktree(record, `${task.title} (#${task.number})\n\nLoop-Run: ${factory.runId}`);
		stage = "pushing the branch";
		const pushed = await pushBranch(repoRoot, {
			remote: options.remote,
			branch,
			commit: committed.commit,
			protectedBranches: [base],
		});
		if (pushed.status !== "pushed") throw new Error(`git push of ${branch}: ${pushed.detail}`);
		const passed = outcome?.reason === "passed";
		const workDone: TaskWork = {
			branch,
			base,
			runId: factory.runId,
			check: { command: last?.command ?? options.check, passed, tail: (last?.output ?? why ?? "").slice(-3000) },
			iterations: outcome?.iterations ?? spawns.filter((s) => s.agent === "task").length,
			diffStat: committed.diffStat,
			answer: spawns.filter((s) => s.agent === "task").at(-1)?.text ?? "",
			costByRole: costByRole(spawns),
			review,
			droppedPaths: dropped,
			reportPath: join(".pi", "loop", "runs", factory.runId, "report.md"),
		};
		summary.iterations = workDone.iterations;
		summary.cost = spawns.reduce((sum, s) => sum + s.cost, 0);
		if (passed || options.prOnFailure) {
			stage = "opening the pull request";
			const title = `${oneLine(task.title)} (#${task.number})`;
			const delivered = await source.deliver(task, {
				branch,
				base,
				title: passed ? title : `[failing] ${title}`,
				body: pullRequestBody(task, workDone, passed),
			});
			summary.pr = delivered.url;
		}
		if (passed) {
			stage = "labelling the task";
			await source.mark(task, { add: "loop:pr-open", remove: "loop:claimed" });
			summary.outcome = summary.pr ? "pr-open" : "delivered";
			summary.detail = summary.pr ?? `branch ${branch} pushed`;
		} else {
			const reason =
				why ??
				(outcome?.reason === "max-iterations"
					? `the check still fails after ${options.max} iteration(s)`
					: `the check did not pass (${outcome?.reason})`);
			stage = "reporting the failure";
			await source.comment(task, failureComment(workDone, reason, summary.pr));
			await source.mark(task, { add: "loop:failed", remove: "loop:claimed" });
			summary.outcome = "failed";
			summary.detail = reason;
		}
		await removeCleanWorktree(repoRoot, record, `pushed as ${branch}`);
	} catch (error) {
		const message = error instanceof GitError || error instanceof Error ? error.message : String(error);
		summary.outcome = "error";
		summary.detail = `${stage}: ${message}`;
		factory.observe.log("error", `#${task.number}: ${summary.detail}`);
		// The claim is released on the task (the branch and any worktree stay: nothing is lost).
		await source.mark(task, { remove: "loop:claimed" }).catch(() => undefined);
		await source.comment(task, releaseComment(factory.runId, summary.detail)).catch(() => undefined);
	}
}

function costByRole(spawns: SpawnResult[]): Record<string, number> {
	const by: Record<string, number> = {};
	for (const s of spawns) by[s.role || s.model || "model"] = (by[s.role || s.model || "model"] ?? 0) + s.cost;
	return by;
}

function oneLine(text: string): string {
	return text.replace(/\s+/g, " ").trim().slice(0, 200);
}

/** Restores loop configuration and CI workflows the agent changed (tracked: to the base; new: removed). */
async function dropGuarded(worktree: string): Promise<string[]> {
	const status = await git(worktree, ["status", "--porcelain", "-z", "--untracked-files=all", "--", ...GUARDED]);
	const paths = status
		.split("\0")
		.filter((f) => f.length > 3)
		.map((f) => f.slice(3));
	if (paths.length === 0) return [];
	await runGit(worktree, ["checkout", "HEAD", "--", ...GUARDED]);
	await runGit(worktree, ["clean", "-fdq", "--", ...GUARDED]);
	return paths;
}
