/**
 * Isolated git worktrees for agent work: one per isolated spawn, on branch
 * `loop/<run>/<n>`, made from the user's HEAD, kept outside the project (the
 * user's cache directory) so test runners and watchers in the checkout never
 * see them, and recorded in `.pi/loop/worktrees.json` so a crash leaves a list
 * to resume, report or prune. Nothing here touches the user's own work tree.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { runGit as git, git as gitOk, identityArgs, isMerged } from "./git.ts";

export type WorktreeState = "active" | "committed" | "merged" | "conflict" | "check-failed" | "blocked" | "removed";

export interface WorktreeRecord {
	runId: string;
	n: number;
	path: string;
	branch: string;
	/** The user's HEAD commit it was made from. */
	base: string;
	/** The commit holding the agent's work (base when it changed nothing). */
	commit?: string;
	state: WorktreeState;
	detail?: string;
	updatedAt: string;
}

/** A stable name for a repository: its folder name and a hash of its git directory. */
export function repoId(repoRoot: string): string {
	const real = existsSync(repoRoot) ? realpathSync(repoRoot) : repoRoot;
	return `${basename(real)}-${createHash("sha256").update(real).digest("hex").slice(0, 10)}`;
}

/** `$XDG_CACHE_HOME` (or `~/.cache`) / pi-loop-factory/worktrees/<repo-id>/<run>/<n>. */
export function worktreePath(repoRoot: string, runId: string, n: number, env = process.env): string {
	const cache = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.trim() !== "" ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
	return join(cache, "pi-loop-factory", "worktrees", repoId(repoRoot), runId, String(n));
}

export function branchName(runId: string, n: number): string {
	return `loop/${runId}/${n}`;
}

// ---- the registry: .pi/loop/worktrees.json ----

function registryFile(repoRoot: string): string {
	return join(repoRoot, ".pi", "loop", "worktrees.json");
}

export function readWorktrees(repoRoot: string): WorktreeRecord[] {
	try {
		const parsed = JSON.parse(readFileSync(registryFile(repoRoot), "utf8")) as unknown;
		return Array.isArray(parsed) ? (parsed as WorktreeRecord[]) : [];
	} catch {
		return [];
	}
}

/** Adds or replaces the record of a branch (one per worktree, also a resumed step's `-2`); written atomically. */
export function saveWorktree(repoRoot: string, record: WorktreeRecord): void {
	const all = readWorktrees(repoRoot).filter((r) => r.branch !== record.branch);
	all.push({ ...record, updatedAt: new Date().toISOString() });
	const file = registryFile(repoRoot);
	mkdirSync(dirname(file), { recursive: true });
	// The project may be a folder of the repository: the registry's folder must not show up as untracked.
	const ignore = join(dirname(file), ".gitignore");
	if (!existsSync(ignore)) writeFileSync(ignore, "*\n");
	const temp = `${file}.${process.pid}.tmp`;
	writeFileSync(temp, `${JSON.stringify(all, null, "\t")}\n`);
	renameSync(temp, file);
}

/** Ignored dependency folders the worktree borrows from the checkout (checks and servers need them). */
const SHARED_FOLDERS = ["node_modules", ".venv", "venv"];

/**
 * A worktree on a new branch from the user's HEAD, with the checkout's dependency folders linked in. When an
 * earlier attempt of the run left one for the same step (a crash mid-spawn), that one is kept as it is and the
 * new one gets a suffix (`loop/<run>/<n>-2`).
 */
export async function createWorktree(repoRoot: string, runId: string, n: number): Promise<WorktreeRecord> {
	const base = (await gitOk(repoRoot, ["rev-parse", "HEAD"])).trim();
	let path = worktreePath(repoRoot, runId, n);
	let branch = branchName(runId, n);
	const taken = async () =>
		existsSync(path) || (await git(repoRoot, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`])).code === 0;
	for (let k = 2; await taken(); k++) {
		path = `${worktreePath(repoRoot, runId, n)}-${k}`;
		branch = `${branchName(runId, n)}-${k}`;
	}
	mkdirSync(dirname(path), { recursive: true });
	await gitOk(repoRoot, ["worktree", "add", "-b", branch, path, base]);
	for (const folder of SHARED_FOLDERS) {
		const from = join(repoRoot, folder);
		const to = join(path, folder);
		if (existsSync(from) && !existsSync(to)) symlinkSync(from, to, "dir");
	}
	const record: WorktreeRecord = { runId, n, path, branch, base, state: "active", updatedAt: "" };
	saveWorktree(repoRoot, record);
	return record;
}

export interface WorktreeCommit {
	commit: string;
	/** `git diff --stat` of the work against its base ("" when nothing changed). */
	diffStat: string;
	files: string[];
}

/** Commits everything the agent changed in its worktree (the linked dependency folders stay out). */
export async function commitWorktree(record: WorktreeRecord, message: string): Promise<WorktreeCommit> {
	const cwd = record.path;
	await gitOk(cwd, ["add", "-A", "--", ".", ...SHARED_FOLDERS.map((f) => `:(exclude)${f}`)]);
	const staged = await git(cwd, ["diff", "--cached", "--quiet"]);
	if (staged.code !== 0) await gitOk(cwd, [...(await identityArgs(cwd)), "commit", "-q", "--no-verify", "-m", message]);
	const commit = (await gitOk(cwd, ["rev-parse", "HEAD"])).trim();
	const files = (await gitOk(cwd, ["diff", "--name-only", record.base, commit])).split("\n").filter((f) => f !== "");
	const diffStat = files.length > 0 ? (await gitOk(cwd, ["diff", "--stat", record.base, commit])).trimEnd() : "";
	return { commit, diffStat, files };
}

/** Why a recorded worktree must stay, or undefined when nothing in it or its branch would be lost. */
async function keepReason(repoRoot: string, record: WorktreeRecord, target: string): Promise<string | undefined> {
	// The registry lives in the repository: act only on what this package makes (its cache folder, loop/ branches).
	const ours = join(dirname(worktreePath(repoRoot, "x", 0)), "..");
	if (!record.branch.startsWith("loop/") || !record.path.startsWith(`${ours}/`))
		return "not a worktree or branch this package made";
	if (!(await isMerged(repoRoot, record.commit ?? record.base, target))) return "its commit is not merged";
	const tip = await git(repoRoot, ["rev-parse", "--verify", "--quiet", `refs/heads/${record.branch}^{commit}`]);
	if (tip.code === 0 && !(await isMerged(repoRoot, tip.stdout.trim(), target)))
		return "its branch has commits that are not merged";
	if (existsSync(record.path)) {
		const status = await git(record.path, ["status", "--porcelain", "--untracked-files=all"]);
		const dirty = status.stdout.split("\n").filter((l) => l !== "" && !/ (node_modules|\.venv|venv)$/.test(l));
		if (status.code !== 0 || dirty.length > 0) return "its worktree has uncommitted changes";
	}
	return undefined;
}

/**
 * Removes the worktree and its branch — only when its commit and its branch tip are proven to be in `target`
 * (default: the user's HEAD) and the worktree holds no uncommitted change; otherwise nothing is removed.
 */
export async function removeIfMerged(repoRoot: string, record: WorktreeRecord, target = "HEAD"): Promise<boolean> {
	if ((await keepReason(repoRoot, record, target)) !== undefined) return false;
	if (existsSync(record.path)) await gitOk(repoRoot, ["worktree", "remove", "--force", record.path]);
	await git(repoRoot, ["worktree", "prune"]);
	const exists = await git(repoRoot, ["rev-parse", "--verify", "--quiet", `refs/heads/${record.branch}`]);
	if (exists.code === 0) await gitOk(repoRoot, ["branch", "-D", record.branch]);
	saveWorktree(repoRoot, { ...record, state: "removed", detail: `merged into ${target}; worktree and branch removed` });
	return true;
}
