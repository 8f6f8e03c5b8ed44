/**
 * Brings a finished work branch (an agent's, made in its own worktree) back into the branch checked out in the
 * user's repository without losing or touching the user's own work: the merge happens first in a scratch worktree
 * (outside the project), the check runs there, and only then does the user's branch move forward, by a fast-forward
 * that updates just the paths the merge changed. Uncommitted, staged and untracked files of the user stay exactly as
 * they were; when they are in the way the merge is blocked instead. Never stashes, resets, forces or deletes the
 * item's branch. Every git call goes through execFile (no shell).
 */
import { lstatSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { GitError, git, identityArgs, isMerged, nulList, runGit as run } from "./git.ts";

export interface MergeItem {
	/** The item's branch (named in messages; never deleted here). */
	branch: string;
	/** The tip commit of the item's branch: what gets merged. */
	commit: string;
}

export type MergeOutcome =
	/** `commit` is the user's branch tip after the merge. */
	| { status: "merged"; commit: string; fastForward: boolean }
	| { status: "conflict"; files: string[]; detail: string }
	| { status: "check-failed"; detail: string; output: string }
	/** User changes in the way, detached HEAD, a git error… */
	| { status: "blocked"; detail: string };

export interface MergeOptions {
	/** Runs the check in the scratch worktree (cwd) after integrating; absent = no check. */
	check?: (cwd: string) => Promise<{ passed: boolean; output: string }>;
	/** Where scratch worktrees go (a directory outside the user's project); one subdirectory per merge. */
	scratchRoot: string;
}

/** Paths with uncommitted changes (modified, staged, untracked) from `git status --porcelain -z`, both of a rename. */
export function parseStatus(out: string): string[] {
	const fields = out.split("\0");
	const paths: string[] = [];
	for (let i = 0; i < fields.length; i++) {
		const field = fields[i] as string;
		if (field.length < 4) continue;
		paths.push(field.slice(3));
		// Renames and copies carry their source path as the next field.
		if (field[0] === "R" || field[0] === "C" || field[1] === "R" || field[1] === "C") {
			const from = fields[++i];
			if (from) paths.push(from);
		}
	}
	return paths;
}

/**
 * The files among `touched` that hold uncommitted work of the user, from one `git status` over just those paths:
 * modified, staged, untracked — and ignored, which git would overwrite silently. A listed folder (`dir/`) covers
 * the paths under it; a listed file under a touched path (the item writes a file where the user has a folder)
 * counts for that path.
 */
async function userChangesIn(root: string, touched: string[]): Promise<string[]> {
	if (touched.length === 0) return [];
	// Asked about the touched paths only (literal pathspecs), so a large repository costs no more than a small one.
	const paths = ["--", ...touched.map((path) => `:(literal)${path}`)];
	const args = ["--no-optional-locks", "status", "--porcelain", "-z", "--untracked-files=all", "--ignored=matching"];
	const listed = parseStatus(await git(root, [...args, ...paths]));
	const entries = listed.map((entry) => entry.replace(/\/$/, ""));
	const touchedSet = new Set(touched);
	const inTheWay = (path: string) =>
		entries.some((entry) => entry === path || entry.startsWith(`${path}/`) || path.startsWith(`${entry}/`)) ||
		blockedParent(root, path, touchedSet);
	return touched.filter(inTheWay);
}

/**
 * Whether a folder above `path` is, in the user's tree, something other than a folder (a file or a link) that the
 * item does not change itself: an ignored file there is not listed by `git status` for `path`, and git would
 * replace it silently to make the folder.
 */
function blockedParent(root: string, path: string, touched: Set<string>): boolean {
	const parts = path.split("/");
	for (let i = 1; i < parts.length; i++) {
		const parent = parts.slice(0, i).join("/");
		if (touched.has(parent)) return false;
		try {
			const stat = lstatSync(join(root, parent));
			if (!stat.isDirectory()) return true;
		} catch {
			return false; // not there: nothing of the user's in the way
		}
	}
	return false;
}

function short(commit: string): string {
	return commit.slice(0, 12);
}

function listFiles(files: string[]): string {
	const shown = files.slice(0, 20).join(", ");
	return files.length > 20 ? `${shown} and ${files.length - 20} more` : shown;
}

function inTheWayDetail(branch: string, files: string[]): string {
	return `uncommitted changes in the way of ${branch}, which changes ${listFiles(files)}: commit or revert them first`;
}

/** A scratch worktree: made detached at `base`, removed (and pruned) by `remove`, whatever state it is in. */
class Scratch {
	private constructor(
		private readonly root: string,
		readonly dir: string,
	) {}

	static async create(root: string, scratchRoot: string, base: string, branch: string): Promise<Scratch> {
		mkdirSync(scratchRoot, { recursive: true });
		const label = branch.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 40) || "item";
		const dir = mkdtempSync(join(scratchRoot, `merge-${label}-`));
		const scratch = new Scratch(root, dir);
		try {
			await git(root, ["worktree", "add", "--detach", dir, base]);
		} catch (error) {
			await scratch.remove();
			throw error;
		}
		return scratch;
	}

	/** Removes this scratch worktree only (never the user's), then prunes git's record of it. */
	async remove(): Promise<void> {
		const removed = await run(this.root, ["worktree", "remove", "--force", this.dir]).catch(() => undefined);
		if (removed?.code !== 0) rmSync(this.dir, { recursive: true, force: true });
		await run(this.root, ["worktree", "prune"]).catch(() => undefined);
	}
}

type Attempt = MergeOutcome | { status: "moved" };

/** Where the user's repository stands: its root, HEAD's commit and branch (undefined when detached). */
interface Position {
	root: string;
	head: string;
	target: string | undefined;
	/** The items' commits, resolved, when asked for. */
	commits: string[];
}

/** One `git rev-parse` for the root, HEAD, HEAD's branch and the items' commits resolved; undefined if it fails. */
async function position(repo: string, commits: string[] = []): Promise<Position | undefined> {
	const revs = commits.map((commit) => `${commit}^{commit}`);
	const result = await run(repo, ["rev-parse", "--show-toplevel", "HEAD", ...revs, "--symbolic-full-name", "HEAD"]);
	if (result.code !== 0) return undefined;
	const [root = "", head = "", ...rest] = result.stdout.trim().split("\n");
	const symbolic = rest.pop() ?? "";
	const target = symbolic.startsWith("refs/heads/") ? symbolic.slice("refs/heads/".length) : undefined;
	return { root, head, target, commits: rest };
}

/**
 * Merges `item.commit` into the branch checked out in `repo`: already merged → merged (nothing done); user changes
 * to the item's files → blocked; otherwise merge (in a scratch worktree when there is a check, which runs there),
 * then fast-forward the user's branch to the result. A branch that moved meanwhile gets one more try.
 */
export { GitError, isMerged };

export async function mergeBack(repo: string, item: MergeItem, options: MergeOptions): Promise<MergeOutcome> {
	try {
		if (item.commit.startsWith("-")) return { status: "blocked", detail: `not a commit: ${item.commit}` };
		let here = await position(repo, [item.commit]);
		if (!here) {
			// Either the commit is unknown or the repository itself is unusable; git's own words for the latter.
			const plain = await position(repo);
			if (!plain) await git(repo, ["rev-parse", "--show-toplevel", "HEAD"]);
			return { status: "blocked", detail: `${item.branch}: no commit ${item.commit} in ${plain?.root ?? repo}` };
		}
		const commit = here.commits[0] as string;
		for (let attempt = 0; attempt < 2; attempt++) {
			const outcome = await attemptMerge(here, item.branch, commit, options);
			if (outcome.status !== "moved") return outcome;
			here = (await position(here.root)) ?? here;
		}
		return { status: "blocked", detail: "the branch kept moving while merging; try again" };
	} catch (error) {
		return { status: "blocked", detail: error instanceof Error ? error.message : String(error) };
	}
}

/**
 * Merges several items in the order given, each onto what the ones before it left. With a check, one by one
 * (each merged result is checked before the branch moves). Without one, as a batch: the merges are computed from
 * objects alone (chained `git merge-tree`), the user's changes are asked about once for all the items' files, and
 * the branch moves once, by a fast-forward to the last merge — the same outcomes in about half the git calls.
 * Anything unusual in a batch (the branch moved, new user changes, git refusing, an old git) means one by one.
 */
export async function mergeBackAll(repo: string, items: MergeItem[], options: MergeOptions): Promise<MergeOutcome[]> {
	if (items.length > 1 && !options.check) {
		const batch = await mergeBatch(repo, items).catch(() => undefined);
		if (batch) return batch;
	}
	const outcomes: MergeOutcome[] = [];
	for (const item of items) outcomes.push(await mergeBack(repo, item, options));
	return outcomes;
}

/** The batch's outcomes; undefined when it has to be done one by one instead (mergeBack is idempotent). */
async function mergeBatch(repo: string, items: MergeItem[]): Promise<MergeOutcome[] | undefined> {
	if (items.some((item) => item.commit.startsWith("-"))) return undefined;
	const here = await position(
		repo,
		items.map((item) => item.commit),
	);
	if (!here || here.target === undefined) return undefined; // one by one says why, per item
	const { root, head, target, commits } = here;
	const outcomes: (MergeOutcome | undefined)[] = items.map(() => undefined);
	// What each item changed since it left the user's branch; one already in it is merged.
	const bases: string[] = [];
	const touched: string[][] = [];
	for (const [i, commit] of commits.entries()) {
		bases[i] = (await git(root, ["merge-base", head, commit])).trim();
		if (bases[i] === commit) outcomes[i] = { status: "merged", commit: head, fastForward: false };
		touched[i] =
			bases[i] === commit
				? []
				: nulList(await git(root, ["diff", "--name-only", "-z", "--no-renames", bases[i], commit]));
	}
	const inTheWay = new Set(await userChangesIn(root, [...new Set(touched.flat())]));
	let identity: Promise<string[]> | undefined;
	const once = () => {
		identity ??= identityArgs(root);
		return identity;
	};
	let tip = head;
	const included: number[] = [];
	for (const [i, item] of items.entries()) {
		if (outcomes[i]) continue;
		const blocking = touched[i].filter((path) => inTheWay.has(path));
		if (blocking.length > 0) {
			outcomes[i] = { status: "blocked", detail: inTheWayDetail(item.branch, blocking) };
			continue;
		}
		const commit = commits[i];
		if (tip === head && bases[i] === head) tip = commit;
		else {
			const merged = await mergeTree(root, { head: tip, base: bases[i], commit, branch: item.branch, target }, once);
			if (!merged) return undefined; // an older git: one by one, in scratch worktrees
			if ("status" in merged) {
				outcomes[i] = merged;
				continue;
			}
			tip = merged.tip;
		}
		included.push(i);
	}
	if (included.length > 0) {
		// As in mergeBack: same branch, same tip, the files still free — then one fast-forward.
		const now = await position(root);
		if (now?.target !== target || now.head !== head) return undefined;
		if (
			(
				await userChangesIn(
					root,
					included.flatMap((i) => touched[i]),
				)
			).length > 0
		)
			return undefined;
		const forward = await run(root, ["merge", "--ff-only", "--no-autostash", "--no-edit", tip]);
		if (forward.code !== 0) return undefined;
		if ((await git(root, ["rev-parse", "HEAD"])).trim() !== tip) return undefined;
		for (const i of included) outcomes[i] = { status: "merged", commit: tip, fastForward: tip === commits[i] };
	}
	return outcomes as MergeOutcome[];
}

async function attemptMerge(at: Position, branch: string, commit: string, options: MergeOptions): Promise<Attempt> {
	const { root, head, target } = at;
	if (target === undefined) {
		return {
			status: "blocked",
			detail: `HEAD is detached in ${root}: check out the branch to merge ${branch} into`,
		};
	}
	const base = (await git(root, ["merge-base", head, commit])).trim();
	if (base === commit) return { status: "merged", commit: head, fastForward: false }; // already in the branch
	const touched = nulList(await git(root, ["diff", "--name-only", "-z", "--no-renames", base, commit]));
	const inTheWay = await userChangesIn(root, touched);
	if (inTheWay.length > 0) {
		return { status: "blocked", detail: inTheWayDetail(branch, inTheWay) };
	}

	const integrated = await integrate(root, { head, base, commit, branch, target }, options);
	if ("status" in integrated) return integrated;
	const { tip } = integrated;

	// The user may have worked on meanwhile (a check takes time): same branch, same tip, files still free. The
	// merge changes only paths the item changed, so those are the ones asked about again.
	const now = await position(root);
	if (now?.target !== target || now.head !== head) return { status: "moved" };
	const nowInTheWay = await userChangesIn(root, touched);
	if (nowInTheWay.length > 0) {
		return { status: "blocked", detail: inTheWayDetail(branch, nowInTheWay) };
	}

	const forward = await run(root, ["merge", "--ff-only", "--no-autostash", "--no-edit", tip]);
	if (forward.code !== 0) {
		const after = await position(root);
		if (after?.target !== target || after.head !== head) return { status: "moved" };
		return {
			status: "blocked",
			detail: `git refused to move ${target} to the merged ${branch}: ${(forward.stderr || forward.stdout).trim()}`,
		};
	}
	// The proof: the branch is at the merge (which has the item's commit as a parent), or at least contains the commit.
	const after = (await git(root, ["rev-parse", "HEAD"])).trim();
	if (after !== tip && !(await isMerged(root, commit))) {
		return { status: "blocked", detail: `${target} moved to ${short(after)} but ${short(commit)} is not in it` };
	}
	return { status: "merged", commit: after, fastForward: tip === commit };
}

interface Integration {
	head: string;
	base: string;
	commit: string;
	branch: string;
	target: string;
}

/**
 * The item merged onto the user's tip, as a commit (`tip`), or why not. Without a check the merge is computed
 * without any worktree (a fast-forward needs none; otherwise `git merge-tree --write-tree`, git ≥ 2.38); with a
 * check — or an older git — in a scratch worktree, where the check runs.
 */
async function integrate(
	root: string,
	m: Integration,
	options: MergeOptions,
): Promise<{ tip: string } | Exclude<MergeOutcome, { status: "merged" }>> {
	if (!options.check) {
		if (m.base === m.head) return { tip: m.commit };
		const inMemory = await mergeTree(root, m);
		if (inMemory) return inMemory;
	}
	return integrateInScratch(root, m, options);
}

const conflictOutcome = (m: Integration, files: string[]): Exclude<MergeOutcome, { status: "merged" }> => ({
	status: "conflict",
	files,
	detail: `${m.branch} (${short(m.commit)}) conflicts with ${m.target} in ${listFiles(files)}`,
});

/** `git merge-tree --write-tree`: the merge commit made from objects only; undefined when git is too old for it. */
async function mergeTree(
	root: string,
	m: Integration,
	identity?: () => Promise<string[]>,
): Promise<{ tip: string } | Exclude<MergeOutcome, { status: "merged" }> | undefined> {
	const result = await run(root, ["merge-tree", "--write-tree", "--name-only", "--no-messages", m.head, m.commit]);
	if (result.code !== 0 && result.code !== 1) return undefined; // an unknown option: older git
	const [tree = "", ...names] = result.stdout.split("\n");
	if (result.code === 1) return conflictOutcome(m, names.filter((n) => n !== "").sort());
	const message = `Merge branch '${m.branch}' into ${m.target}`;
	const ident = identity ? await identity() : await identityArgs(root);
	const tip = (
		await git(root, [...ident, "commit-tree", tree.trim(), "-p", m.head, "-p", m.commit, "-m", message])
	).trim();
	return { tip };
}

async function integrateInScratch(
	root: string,
	m: Integration,
	options: MergeOptions,
): Promise<{ tip: string } | Exclude<MergeOutcome, { status: "merged" }>> {
	const { branch, commit, target } = m;
	const scratch = await Scratch.create(root, options.scratchRoot, m.head, branch);
	try {
		const identity = await identityArgs(root);
		const mergeArgs = ["merge", "--no-edit", "--ff", "-m", `Merge branch '${branch}' into ${target}`, commit];
		const merged = await run(scratch.dir, [...identity, ...mergeArgs]);
		if (merged.code !== 0) {
			const files = nulList(await git(scratch.dir, ["diff", "--name-only", "-z", "--diff-filter=U"]));
			await run(scratch.dir, ["merge", "--abort"]);
			if (files.length === 0) throw new GitError(mergeArgs, scratch.dir, merged.stderr.trim(), merged.code);
			return conflictOutcome(m, files);
		}
		const tip = (await git(scratch.dir, ["rev-parse", "HEAD"])).trim();

		if (options.check) {
			let result: { passed: boolean; output: string };
			try {
				result = await options.check(scratch.dir);
			} catch (error) {
				const output = error instanceof Error ? error.message : String(error);
				return { status: "check-failed", detail: `the check could not run on ${branch} merged: ${output}`, output };
			}
			if (!result.passed) {
				return {
					status: "check-failed",
					detail: `the check failed on ${branch} merged into ${target}`,
					output: result.output,
				};
			}
		}

		return { tip };
	} finally {
		await scratch.remove();
	}
}
