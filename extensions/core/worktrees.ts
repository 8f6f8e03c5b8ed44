/**
 * Isolated git worktrees for agent work: one per isolated spawn, on branch
 * `loop/<run>/<n>`, made from the user's HEAD, kept outside the project (the
 * user's cache directory) so test runners and watchers in the checkout never
 * see them, and recorded in `.pi/loop/worktrees.json` so a crash leaves a list
 * to resume, report or prune. Nothing here touches the user's own work tree.
 */
import { createHash } from "node:crypto";
import {
	existsSync,
	lstatSync,
	mkdirSync,
	readFileSync,
	readlinkSync,
	realpathSync,
	renameSync,
	symlinkSync,
	unlinkSync,
	writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { GitError, runGit as git, git as gitOk, identityArgs } from "./git.ts";

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
	const add = () => git(repoRoot, ["worktree", "add", "-b", branch, path, base]);
	mkdirSync(dirname(path), { recursive: true });
	// Usually the first try works; only when it fails is a leftover of the same step looked for.
	const added = existsSync(path) ? undefined : await add();
	if (added?.code !== 0) {
		const taken = async () =>
			existsSync(path) ||
			(await git(repoRoot, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`])).code === 0;
		if (added !== undefined && !(await taken())) {
			throw new GitError(["worktree", "add", "-b", branch, path, base], repoRoot, added.stderr.trim(), added.code);
		}
		for (let k = 2; await taken(); k++) {
			path = `${worktreePath(repoRoot, runId, n)}-${k}`;
			branch = `${branchName(runId, n)}-${k}`;
		}
		await gitOk(repoRoot, ["worktree", "add", "-b", branch, path, base]);
	}
	linkSharedFolders(repoRoot, path);
	const record: WorktreeRecord = { runId, n, path, branch, base, state: "active", updatedAt: "" };
	saveWorktree(repoRoot, record);
	return record;
}

function linkSharedFolders(repoRoot: string, path: string): void {
	for (const folder of SHARED_FOLDERS) {
		const from = join(repoRoot, folder);
		const to = join(path, folder);
		if (existsSync(from) && !existsSync(to)) symlinkSync(from, to, "dir");
	}
}

/**
 * A worktree at `commit` with a detached HEAD (no local branch), for work whose branch lives on a remote (an
 * issue's claimed branch): `<cache>/<repo-id>/<run>/<name>`, dependency folders linked, recorded under `branch`.
 */
export async function createDetachedWorktree(
	repoRoot: string,
	runId: string,
	name: string,
	branch: string,
	commit: string,
): Promise<WorktreeRecord> {
	const path = join(dirname(worktreePath(repoRoot, runId, 0)), name);
	if (existsSync(path)) throw new Error(`a worktree folder ${path} is already there: remove it or prune`);
	mkdirSync(dirname(path), { recursive: true });
	await gitOk(repoRoot, ["worktree", "add", "--detach", path, commit]);
	linkSharedFolders(repoRoot, path);
	const record: WorktreeRecord = { runId, n: 0, path, branch, base: commit, state: "active", updatedAt: "" };
	saveWorktree(repoRoot, record);
	return record;
}

/**
 * Removes a worktree whose work is safe elsewhere (pushed): only when git finds no uncommitted change in it; the
 * record says "removed". Undefined when removed, else why not.
 */
export async function removeCleanWorktree(
	repoRoot: string,
	record: WorktreeRecord,
	why: string,
): Promise<string | undefined> {
	const refused = existsSync(record.path) ? await removeWorktreeIfClean(repoRoot, record.path) : undefined;
	if (refused === undefined) saveWorktree(repoRoot, { ...record, state: "removed", detail: why });
	return refused;
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
	// One diff for both: NUL-ended `--numstat` records (added, deleted, path), then the `--stat` text.
	const out = await gitOk(cwd, ["diff", "--no-renames", "--numstat", "--stat", "-z", record.base, commit]);
	const fields = out.split("\0");
	const diffStat = (fields.pop() ?? "").replace(/^\n/, "").trimEnd();
	const files = fields.flatMap((field) => {
		const path = field.split("\t").slice(2).join("\t");
		return path === "" ? [] : [path];
	});
	return { commit, diffStat, files };
}

/** Where this package's worktrees live for this repository: records pointing elsewhere are never acted on. */
function isOurs(repoRoot: string, record: WorktreeRecord): boolean {
	const ours = join(dirname(worktreePath(repoRoot, "x", 0)), "..");
	return record.branch.startsWith("loop/") && record.path.startsWith(`${ours}/`);
}

/**
 * Removes the worktrees and branches of `records` — each only when its commit and its branch's tip are proven to be
 * in `target` (default: the user's HEAD) and its worktree holds no uncommitted change; the others stay, with why.
 * Costs two git calls for the lot, one per worktree and one for the branches: whether the commits are in `target`
 * comes from one `git rev-list <commits> --not <target>` (a commit is merged exactly when it is not listed), and the
 * dirty check is `git worktree remove` without --force itself, once the dependency links this package made are gone.
 */
export async function removeMerged(
	repoRoot: string,
	records: WorktreeRecord[],
	target = "HEAD",
): Promise<{ removed: WorktreeRecord[]; kept: { record: WorktreeRecord; reason: string }[] }> {
	const kept: { record: WorktreeRecord; reason: string }[] = [];
	const candidates = records.filter((record) => {
		if (isOurs(repoRoot, record)) return true;
		kept.push({ record, reason: "not a worktree or branch this package made" });
		return false;
	});
	if (candidates.length === 0) return { removed: [], kept };
	const refs = candidates.map((record) => `refs/heads/${record.branch}`);
	const tips = new Map(
		(await gitOk(repoRoot, ["for-each-ref", "--format=%(refname) %(objectname)", ...refs]))
			.split("\n")
			.filter((line) => line !== "")
			.map((line) => line.split(" ") as [string, string]),
	);
	const commits = candidates.flatMap((r) => [r.commit ?? r.base, tips.get(`refs/heads/${r.branch}`) ?? []].flat());
	const listed = await git(repoRoot, ["rev-list", ...new Set(commits), "--not", target]);
	if (listed.code !== 0)
		throw new GitError(["rev-list", "…", "--not", target], repoRoot, listed.stderr.trim(), listed.code);
	const unmerged = new Set(listed.stdout.split("\n"));
	const removed: WorktreeRecord[] = [];
	let prune = false;
	for (const record of candidates) {
		const tip = tips.get(`refs/heads/${record.branch}`);
		if (unmerged.has(record.commit ?? record.base)) {
			kept.push({ record, reason: "its commit is not merged" });
			continue;
		}
		if (tip !== undefined && unmerged.has(tip)) {
			kept.push({ record, reason: "its branch has commits that are not merged" });
			continue;
		}
		if (existsSync(record.path)) {
			const refused = await removeWorktreeIfClean(repoRoot, record.path);
			if (refused !== undefined) {
				kept.push({ record, reason: refused });
				continue;
			}
		} else prune = true;
		removed.push(record);
	}
	if (prune) await git(repoRoot, ["worktree", "prune"]);
	// -D, not -d: -d would compare with the branch checked out, not `target`; the tips are proven merged above.
	const branches = removed.filter((r) => tips.has(`refs/heads/${r.branch}`)).map((r) => r.branch);
	if (branches.length > 0) await gitOk(repoRoot, ["branch", "-D", ...branches]);
	for (const record of removed)
		saveWorktree(repoRoot, {
			...record,
			state: "removed",
			detail: `merged into ${target}; worktree and branch removed`,
		});
	return { removed, kept };
}

/**
 * `git worktree remove` without --force, which refuses a worktree with modified or untracked files: the links to
 * the checkout's dependency folders (made by createWorktree) are taken out first and put back when it refuses.
 * Undefined when removed, else why not.
 */
async function removeWorktreeIfClean(repoRoot: string, path: string): Promise<string | undefined> {
	const links = SHARED_FOLDERS.map((folder) => join(path, folder)).filter((link) => {
		try {
			return lstatSync(link).isSymbolicLink();
		} catch {
			return false;
		}
	});
	const targets = links.map((link) => readlinkSync(link));
	for (const link of links) unlinkSync(link);
	const result = await git(repoRoot, ["worktree", "remove", path]);
	if (result.code === 0) return undefined;
	for (const [i, link] of links.entries()) symlinkSync(targets[i] as string, link, "dir");
	const words = result.stderr.trim();
	return /untracked|modified/.test(words) ? "its worktree has uncommitted changes" : `git worktree remove: ${words}`;
}
