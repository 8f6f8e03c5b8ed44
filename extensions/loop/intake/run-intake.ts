/**
 * `/loop issues` and `/loop issue <n>`, run as a blueprint (the runner's state, journal, limits, report, exit codes):
 * take labelled tasks oldest first, claim each across machines by creating its branch on the remote (create-only),
 * work it in a worktree of that branch with a `factory.loop` until the check passes, push the branch, and open a
 * draft pull request — or, on failure, push anyway, comment and label. Never merges, closes, force-pushes or pushes
 * to the base branch. `summary.json` in the run's folder has each task's outcome.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { detectCheck, isCheckKind } from "../../core/detect-checks.ts";
import type { Factory, LoopOutcome, SpawnResult } from "../../core/factory-api.ts";
import { GitError, git, nulList, runGit } from "../../core/git.ts";
import { issueBranch, TOKEN_VARIABLES } from "../../core/github.ts";
import { claimBranch, pushBranch, releaseClaim } from "../../core/remote-claim.ts";
import { commitWorktree, createDetachedWorktree, readWorktrees, removeCleanWorktree } from "../../core/worktrees.ts";
import { harnessEnv } from "../../shared/harness-env.ts";
import { dirSource } from "./dir-source.ts";
import { githubSource } from "./github-source.ts";
import { type IntakeOptions, IntakeUsageError, parseIntakeArgs } from "./intake-args.ts";
import { activeTaskDirs, GUARDED_PATHS } from "./intake-guard.ts";
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
	const summaryFile = join(project, ".pi", "loop", "runs", factory.runId, "summary.json");
	// A summary of this run already there: the run is resumed (/loop resume). What it finished stays in the summary
	// and counts toward --limit; its own claims are taken up again.
	const earlier = existsSync(summaryFile) ? finishedBefore(summaryFile) : undefined;
	const resumed = earlier !== undefined;
	const summaries: TaskSummary[] = [...(earlier ?? [])];
	const save = () => {
		mkdirSync(resolve(summaryFile, ".."), { recursive: true });
		writeFileSync(
			summaryFile,
			`${JSON.stringify({ runId: factory.runId, source: source.name, tasks: summaries }, null, 2)}\n`,
		);
		factory.state.tasks = summaries;
	};
	save();
	try {
		await source.check();
	} catch (error) {
		throw new IntakeUsageError(`${source.name}: ${(error as Error).message}`);
	}
	// A named check must exist in the project before anything is claimed (a task could never pass without it).
	if (isCheckKind(options.check)) {
		try {
			detectCheck(project, options.check);
		} catch (error) {
			throw new IntakeUsageError(`--check ${options.check}: ${(error as Error).message}`);
		}
	}
	const remote = (await runGit(repoRoot, ["remote", "get-url", options.remote])).code;
	if (remote !== 0) throw new IntakeUsageError(`no git remote "${options.remote}" in ${repoRoot} (--remote names it)`);
	const base = options.base ?? (await source.defaultBase());
	const candidates = await candidatesOf(source, options);
	factory.observe.log("info", `${source.name}: ${candidates.length} candidate task(s) on ${base}`);
	for (const problem of source.problems ?? [])
		factory.observe.log("warning", `${source.name}: ${problem.file} is not read as a task: ${problem.reason}`);

	const done = new Set(summaries.map((s) => s.number));
	let taken = summaries.filter((s) => TAKEN.includes(s.outcome)).length;
	const queue = candidates.filter((task) => !done.has(task.number));
	const worker = async () => {
		for (let task = queue.shift(); task; task = queue.shift()) {
			if (taken >= options.limit) return;
			taken++; // a slot, reserved before any await so --parallel workers do not overshoot --limit
			const summary = await takeOne(task);
			if (!TAKEN.includes(summary.outcome)) taken--;
			factory.observe.log("info", `#${task.number} ${summary.outcome}${summary.detail ? `: ${summary.detail}` : ""}`);
			save();
		}
	};
	const takeOne = async (task: IntakeTask): Promise<TaskSummary> => {
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
		try {
			const state = task.labels.find((label) => label.toLowerCase().startsWith("loop:"));
			// On resume a loop:claimed task may be this run's own: the claim below tells (taken by this run id).
			if (state && !(resumed && state.toLowerCase() === "loop:claimed")) summary.detail = `it has the label ${state}`;
			else if (await source.delivered(branch)) summary.detail = `a pull request from ${branch} is open`;
			else if (options.dryRun) summary.outcome = "would-take";
			else {
				const claimed = await claim(factory, options, repoRoot, base, task, branch, summary);
				if (claimed)
					await work(factory, options, { source, repoRoot, project, base, task, branch, ...claimed, summary });
			}
		} catch (error) {
			// gh failing before the claim (listing pull requests…): an error of this task, which keeps its --limit
			// slot; the run goes on with the others and ends failed.
			summary.outcome = "error";
			summary.detail = (error as Error).message;
		}
		return summary;
	};
	// The agents' tokens stay with the harness: its gh calls get them explicitly, the agents' tools do not see them.
	const tokens = withheldTokens();
	try {
		await Promise.all(Array.from({ length: options.parallel }, worker));
	} finally {
		tokens.restore();
	}
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

/** Outcomes that used up one of --limit's tasks. */
const TAKEN: TaskSummary["outcome"][] = ["pr-open", "delivered", "failed", "error", "would-take"];

/** A resumed run's finished tasks, from its summary.json (a task cut off mid-work is worked again). */
function finishedBefore(file: string): TaskSummary[] {
	try {
		const tasks = (JSON.parse(readFileSync(file, "utf8")) as { tasks?: TaskSummary[] }).tasks ?? [];
		return tasks.filter((t) => t.outcome === "pr-open" || t.outcome === "delivered" || t.outcome === "failed");
	} catch {
		return [];
	}
}

/**
 * Moves the GitHub token variables from process.env (which the agents' bash commands inherit) to the harness's
 * own environment (shared/harness-env.ts: its git and gh calls only); `restore` moves them back.
 */
function withheldTokens(): { restore(): void } {
	const held = harnessEnv();
	for (const name of TOKEN_VARIABLES) {
		if (process.env[name] === undefined) continue;
		held[name] = process.env[name];
		delete process.env[name];
	}
	return {
		restore() {
			for (const name of TOKEN_VARIABLES) {
				if (held[name] !== undefined && process.env[name] === undefined) process.env[name] = held[name];
				delete held[name];
			}
		},
	};
}

/** The tasks to consider, in order: one by number, or the labelled open ones oldest first. */
async function candidatesOf(source: TaskSource, options: IntakeOptions): Promise<IntakeTask[]> {
	// gh lists the newest first: 500 reach far enough back for a queue taken oldest first.
	if (options.issue === undefined) return source.list(options.label, 500);
	const task = await source.get(options.issue).catch((error: Error & { kind?: string }) => {
		throw error.kind === "not-found" ? new IntakeUsageError(`no task #${options.issue}: ${error.message}`) : error;
	});
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
	// The slug follows the title: a branch of the same task under another name (the title was edited) is its claim.
	const same = await runGit(repoRoot, [
		"ls-remote",
		"--heads",
		options.remote,
		`refs/heads/loop/issue-${task.number}-*`,
	]);
	const other = same.stdout
		.split("\n")
		.map((line) => line.split("\t")[1]?.replace("refs/heads/", ""))
		.find((name) => name !== undefined && name !== branch);
	if (other) {
		summary.outcome = "taken";
		summary.detail = `claimed already on ${other} (its title was different then)`;
		return undefined;
	}
	const outcome = await claimBranch(repoRoot, { remote: options.remote, branch, base, runId: factory.runId, subject });
	if (outcome.status === "claimed") return { claim: outcome.commit, again: false };
	if (outcome.status === "taken" && outcome.by === factory.runId) {
		// A resumed run: the claim is this run's own.
		const tip = await runGit(repoRoot, ["ls-remote", "--heads", options.remote, `refs/heads/${branch}`]);
		const commit = tip.stdout.split("\t")[0]?.trim();
		if (commit) {
			const ref = `refs/heads/${branch}`;
			await runGit(repoRoot, ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", options.remote, ref]);
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
	/** The project: the repository's root or a folder of it. */
	project: string;
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
	let workDir: string | undefined;
	let workPushed = false;
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
		// The project may be a folder of the repository: the agent and the check work in the same folder there.
		workDir = join(record.path, relative(repoRoot, job.project));
		activeTaskDirs().add(workDir);
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
				cwd: workDir,
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
				cwd: workDir,
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
		const last = outcome?.last ?? (await factory.check(options.check, { cwd: workDir }).catch(() => undefined));
		let review: string | undefined;
		if (outcome?.reason === "passed" && options.review) {
			const verdict = await spawn({
				agent: "review",
				role: "review",
				cwd: workDir,
				prompt:
					`Review the uncommitted changes in this checkout (git diff) for task #${task.number}:\n\n${prompt}\n\n` +
					"Say what is wrong or missing, or that it is fine.",
				step: `#${task.number} review`,
			});
			review = verdict.text;
		}
		stage = "committing";
		const dropped = await dropGuarded(record.path, record.base, relative(repoRoot, job.project));
		const committed = await commitWorktree(record, `${task.title} (#${task.number})\n\nLoop-Run: ${factory.runId}`);
		stage = "pushing the branch";
		const pushed = await pushBranch(repoRoot, {
			remote: options.remote,
			branch,
			commit: committed.commit,
			protectedBranches: [base],
		});
		if (pushed.status !== "pushed") throw new Error(`git push of ${branch}: ${pushed.detail}`);
		workPushed = true;
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
		// The claim is released: its branch deleted while it is still the bare claim commit (so the task can be taken
		// again), the label removed, a comment. Work pushed, or a worktree with work, stays: nothing is lost.
		if (!workPushed && !job.again) {
			const released = await releaseClaim(repoRoot, { remote: options.remote, branch, claim: job.claim });
			if (released.status !== "pushed") summary.detail += `; the branch ${branch} stays (${released.detail})`;
		}
		await source.mark(task, { remove: "loop:claimed" }).catch(() => undefined);
		await source.comment(task, releaseComment(factory.runId, summary.detail)).catch(() => undefined);
	} finally {
		if (workDir) activeTaskDirs().delete(workDir);
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

/**
 * Leaves loop configuration and CI workflows as the base has them: whatever the agent changed there — in files, in
 * the index or in commits of its own — is put back (or removed, when new) before the harness commits. Only paths
 * git lists are named to git. Returns them.
 */
async function dropGuarded(worktree: string, base: string, inside: string): Promise<string[]> {
	const guarded = [...new Set([...GUARDED_PATHS, ...(inside ? [join(inside, ".pi")] : [])])];
	const list = async (args: string[]) => nulList(await git(worktree, [...args, "--", ...guarded]));
	const changed = await list(["diff", "--name-only", "-z", "--no-renames", base]);
	const created = await list(["ls-files", "-z", "--others", "--exclude-standard"]);
	if (changed.length === 0 && created.length === 0) return [];
	const inBase = new Set(
		changed.length > 0
			? nulList(await git(worktree, ["ls-tree", "-r", "-z", "--name-only", base, "--", ...changed]))
			: [],
	);
	const restore = changed.filter((path) => inBase.has(path));
	const remove = changed.filter((path) => !inBase.has(path));
	if (restore.length > 0) await git(worktree, ["checkout", base, "--", ...restore]);
	if (remove.length > 0) await git(worktree, ["rm", "-q", "-f", "--cached", "--ignore-unmatch", "--", ...remove]);
	for (const path of [...remove, ...created]) rmSync(join(worktree, path), { force: true });
	return [...changed, ...created].sort();
}
