/**
 * Claiming a unit of work across machines, with no server of our own: a claim is the create-only push of a branch
 * `loop/…` to a git remote. The claim commit is an empty commit on the remote base's tip naming the task and the run
 * (`Loop-Run: <id>` trailer), made with commit-tree so the user's working tree, index and HEAD stay untouched; the
 * push carries an empty lease (`--force-with-lease=<ref>:`, "only if it does not exist"), and the server updates a
 * ref atomically, so of several workers racing for a branch exactly one gets it. Also: a plain fast-forward push of
 * a claimed branch (never to a protected branch, never forced) and a cheap "does the branch exist" query. Pushes
 * name one ref and nothing else (no tags followed, no submodules).
 */
import { GitError, git, identityArgs, runGit } from "./git.ts";

/** The trailer of a claim commit that names the run holding it. */
export const CLAIM_TRAILER = "Loop-Run";
/** How a claim commit's subject starts. */
const CLAIM_SUBJECT = "loop: claim ";

export interface ClaimOptions {
	/** A remote name or URL; default "origin". */
	remote?: string;
	/** The branch to create on the remote: `loop/…`. */
	branch: string;
	/** The remote's branch the claim commit starts from (a branch name, e.g. "main"). */
	base: string;
	/** This run's id, written into the claim commit (`Loop-Run: <runId>`). */
	runId: string;
	/** What is claimed, one line: "issue #12" → "loop: claim issue #12". */
	subject: string;
}

export type ClaimOutcome =
	/** `commit` is the claim commit, now the remote branch's tip; `base` the base tip it was made on. */
	| { status: "claimed"; commit: string; base: string }
	/** The branch exists on the remote; `by` is the run id of its claim commit when that could be read. */
	| { status: "taken"; by?: string; detail: string }
	/** Bad input, no such remote or base, network, authentication, a hook declining…: nothing was claimed. */
	| { status: "error"; detail: string };

export interface PushOptions {
	remote?: string;
	/** The remote branch to update: `loop/…`. */
	branch: string;
	/** The commit to push (resolved locally to a full id first). */
	commit: string;
	/** Branches never pushed to (the remote's default/base branch), as names or `refs/heads/…`. */
	protectedBranches: string[];
}

export type PushOutcome =
	| { status: "pushed"; commit: string }
	/** The remote refused the update (not a fast-forward, a hook…); nothing was forced. */
	| { status: "rejected"; detail: string }
	| { status: "error"; detail: string };

/** A bad branch, base, remote, run id or subject; the message says which and why. */
export class ClaimInputError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "ClaimInputError";
	}
}

/** One ref's line of `git push --porcelain`: `<flag>\t<from>:<to>\t<summary>`. */
export interface PushedRef {
	flag: string;
	from: string;
	to: string;
	summary: string;
}

/** The ref lines of `git push --porcelain` output ("To <url>" and "Done" left out). */
export function parsePushPorcelain(stdout: string): PushedRef[] {
	const refs: PushedRef[] = [];
	for (const line of stdout.split("\n")) {
		const match = /^([ +\-*!=])\t([^\t]*)\t(.*)$/.exec(line);
		if (!match) continue;
		const [, flag, fromTo, summary] = match as unknown as [string, string, string, string];
		const colon = fromTo.lastIndexOf(":");
		refs.push({ flag, from: fromTo.slice(0, colon), to: fromTo.slice(colon + 1), summary });
	}
	return refs;
}

/** The claim commit's message: subject line, blank line, the run trailer. */
export function claimMessage(subject: string, runId: string): string {
	return `${CLAIM_SUBJECT}${subject}\n\n${CLAIM_TRAILER}: ${runId}\n`;
}

// ---- input checks ----

function hasControl(text: string): boolean {
	for (let i = 0; i < text.length; i++) {
		const code = text.charCodeAt(i);
		if (code < 0x20 || code === 0x7f) return true;
	}
	return false;
}

function checkRemote(remote: string): void {
	if (remote === "") throw new ClaimInputError("remote is empty");
	if (remote.startsWith("-")) throw new ClaimInputError(`remote must not start with "-": ${JSON.stringify(remote)}`);
	if (hasControl(remote)) throw new ClaimInputError(`remote holds a control character: ${JSON.stringify(remote)}`);
}

/** A valid branch name as git sees it (`check-ref-format --branch`, which must not expand it, as `@{-1}`). */
async function checkBranchName(repo: string, what: string, name: string): Promise<void> {
	if (name === "") throw new ClaimInputError(`${what} is empty`);
	if (name.startsWith("-")) throw new ClaimInputError(`${what} must not start with "-": ${JSON.stringify(name)}`);
	const result = await runGit(repo, ["check-ref-format", "--branch", name]);
	if (result.code !== 0 || result.stdout.trim() !== name) {
		throw new ClaimInputError(`${what} is not a valid branch name: ${JSON.stringify(name)}`);
	}
}

async function checkLoopBranch(repo: string, branch: string): Promise<void> {
	if (!branch.startsWith("loop/")) {
		throw new ClaimInputError(`branch must start with "loop/": ${JSON.stringify(branch)}`);
	}
	await checkBranchName(repo, "branch", branch);
}

function checkClaimText(runId: string, subject: string): void {
	if (!/^\S{1,200}$/.test(runId) || hasControl(runId)) {
		const rule = "run id must be 1-200 characters without spaces or control characters";
		throw new ClaimInputError(`${rule}: ${JSON.stringify(runId)}`);
	}
	if (subject.trim() === "" || hasControl(subject)) {
		throw new ClaimInputError(`subject must be one non-empty line: ${JSON.stringify(subject)}`);
	}
}

function heads(name: string): string {
	return `refs/heads/${name}`;
}

function describe(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}

// ---- queries ----

/** The tip of `refs/heads/<name>` on the remote, undefined when absent (one `git ls-remote --heads`). */
async function remoteTip(repo: string, remote: string, name: string): Promise<string | undefined> {
	const ref = heads(name);
	const out = await git(repo, ["ls-remote", "--heads", remote, ref]);
	for (const line of out.split("\n")) {
		const [sha, found] = line.split("\t");
		if (found === ref && sha) return sha;
	}
	return undefined;
}

/** True when the remote has the branch `loop/…` (one `git ls-remote --heads`). Bad input or a git failure throws. */
export async function remoteBranchExists(repo: string, remote: string, branch: string): Promise<boolean> {
	checkRemote(remote);
	await checkLoopBranch(repo, branch);
	return (await remoteTip(repo, remote, branch)) !== undefined;
}

/**
 * The remote branch's objects into the local object store, and nothing else: no FETCH_HEAD, no tags, and no
 * remote-tracking ref (`--refmap=`), so claims side by side in one repository lock no ref of the user's.
 */
async function fetchBranch(repo: string, remote: string, name: string): Promise<void> {
	const args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--refmap=", "--no-auto-gc"];
	await git(repo, [...args, remote, heads(name)]);
}

/**
 * The run id of the claim on `tip`: the newest commit along its first parents, down to `base`, that is a claim
 * commit (subject "loop: claim …" with a run trailer). Work pushed on top, and merges, are walked past.
 */
async function claimRunOf(repo: string, tip: string, base: string): Promise<string | undefined> {
	const format = `--format=%s%x1f%(trailers:key=${CLAIM_TRAILER},valueonly,separator=%x2C)`;
	const out = await git(repo, ["log", "-z", "--first-parent", format, tip, `^${base}`, "--"]);
	for (const entry of out.split("\0")) {
		const [subject = "", run = ""] = entry.split("\x1f");
		if (subject.startsWith(CLAIM_SUBJECT) && run.trim() !== "") return run.trim();
	}
	return undefined;
}

// ---- claim ----

/**
 * Claims `branch` on the remote: fetches `base`, makes this run's claim commit on its tip (without touching the
 * working tree, index or HEAD) and pushes it create-only. Exactly one of several concurrent claims gets "claimed".
 */
export async function claimBranch(repo: string, options: ClaimOptions): Promise<ClaimOutcome> {
	const { branch, base, runId, subject } = options;
	const remote = options.remote ?? "origin";
	try {
		checkRemote(remote);
		checkClaimText(runId, subject);
		await checkLoopBranch(repo, branch);
		await checkBranchName(repo, "base", base);
	} catch (error) {
		return { status: "error", detail: describe(error) };
	}
	let baseTip: string;
	let commit: string;
	try {
		// The tip first, then its objects: FETCH_HEAD is not read, so claims running side by side in one repository
		// cannot see each other's fetch.
		const tip = await remoteTip(repo, remote, base);
		if (tip === undefined) return { status: "error", detail: `no branch ${base} on ${remote}` };
		await fetchBranch(repo, remote, base);
		const present = await runGit(repo, ["cat-file", "-e", `${tip}^{commit}`]);
		if (present.code !== 0) {
			return { status: "error", detail: `${base} on ${remote} moved away from ${tip} while fetching it; try again` };
		}
		baseTip = tip;
		const identity = await identityArgs(repo);
		const message = claimMessage(subject.trim(), runId);
		commit = (await git(repo, [...identity, "commit-tree", `${tip}^{tree}`, "-p", tip, "-m", message])).trim();
	} catch (error) {
		return { status: "error", detail: describe(error) };
	}
	return pushClaim(repo, remote, branch, baseTip, commit);
}

async function pushClaim(
	repo: string,
	remote: string,
	branch: string,
	base: string,
	commit: string,
): Promise<ClaimOutcome> {
	const ref = heads(branch);
	const args = [
		"push",
		"--porcelain",
		"--no-follow-tags",
		"--recurse-submodules=no",
		`--force-with-lease=${ref}:`,
		remote,
		`${commit}:${ref}`,
	];
	let result: Awaited<ReturnType<typeof runGit>>;
	try {
		result = await runGit(repo, args);
	} catch (error) {
		return { status: "error", detail: describe(error) };
	}
	const line = parsePushPorcelain(result.stdout).find((pushed) => pushed.to === ref);
	const words = (result.stderr || result.stdout).trim();
	if (result.code === 0 && line && (line.flag === "*" || line.flag === "=")) {
		return { status: "claimed", commit, base };
	}
	// No rejected line for the ref: git never got to update it (no such remote, network, authentication…).
	if (line?.flag !== "!") return { status: "error", detail: new GitError(args, repo, words, result.code).message };
	// Rejected: by the lease or the client's check (the ref exists), or by the server — which is also how the loser of a
	// race that passed both client checks hears it. What the remote holds now tells them apart.
	let tip: string | undefined;
	try {
		tip = await remoteTip(repo, remote, branch);
	} catch (error) {
		if (line.summary.startsWith("[rejected]")) return { status: "taken", detail: `${branch}: ${line.summary}` };
		return { status: "error", detail: `${new GitError(args, repo, words, result.code).message}; ${describe(error)}` };
	}
	if (tip === commit) return { status: "claimed", commit, base };
	if (tip === undefined && !line.summary.startsWith("[rejected]")) {
		return {
			status: "error",
			detail: `${branch}: ${line.summary}; ${new GitError(args, repo, words, result.code).message}`,
		};
	}
	const by = tip === undefined ? undefined : await readClaimRun(repo, remote, branch, tip, base);
	return { status: "taken", ...(by === undefined ? {} : { by }), detail: `${branch}: ${line.summary}` };
}

/** The run id of the claim on the remote branch at `tip`; undefined when it cannot be read. */
async function readClaimRun(
	repo: string,
	remote: string,
	branch: string,
	tip: string,
	base: string,
): Promise<string | undefined> {
	try {
		await fetchBranch(repo, remote, branch);
		return await claimRunOf(repo, tip, base);
	} catch {
		return undefined;
	}
}

// ---- push ----

function isProtected(branch: string, protectedBranches: string[]): boolean {
	const plain = (name: string) => (name.startsWith("refs/heads/") ? name.slice("refs/heads/".length) : name);
	return protectedBranches.some((name) => plain(name) === plain(branch));
}

/**
 * Pushes `commit` to the remote's `loop/…` branch as a plain fast-forward (or creates it). A protected branch is
 * refused before any git runs; a rejection (not a fast-forward, a hook) is reported, never forced.
 */
export async function pushBranch(repo: string, options: PushOptions): Promise<PushOutcome> {
	const { branch, protectedBranches } = options;
	const remote = options.remote ?? "origin";
	if (isProtected(branch, protectedBranches)) {
		return { status: "error", detail: `refusing to push to the protected branch ${branch}` };
	}
	let commit: string;
	try {
		checkRemote(remote);
		if (options.commit.startsWith("-")) throw new ClaimInputError(`not a commit: ${JSON.stringify(options.commit)}`);
		await checkLoopBranch(repo, branch);
		const resolved = await runGit(repo, ["rev-parse", "--verify", "--quiet", `${options.commit}^{commit}`]);
		if (resolved.code !== 0) return { status: "error", detail: `no commit ${options.commit} in ${repo}` };
		commit = resolved.stdout.trim();
	} catch (error) {
		return { status: "error", detail: describe(error) };
	}
	const ref = heads(branch);
	const args = ["push", "--porcelain", "--no-follow-tags", "--recurse-submodules=no", remote, `${commit}:${ref}`];
	try {
		const result = await runGit(repo, args);
		const line = parsePushPorcelain(result.stdout).find((pushed) => pushed.to === ref);
		const words = (result.stderr || result.stdout).trim();
		if (result.code === 0 && line && line.flag !== "!") return { status: "pushed", commit };
		const detail = new GitError(args, repo, words, result.code).message;
		if (line?.flag === "!") return { status: "rejected", detail: `${branch}: ${line.summary}; ${detail}` };
		return { status: "error", detail };
	} catch (error) {
		return { status: "error", detail: describe(error) };
	}
}

/**
 * Gives a claim back: deletes the remote `loop/…` branch only while it still points at `claim` (the claim commit,
 * nothing pushed on it), by a push with that lease; anything else leaves the branch as it is.
 */
export async function releaseClaim(
	repo: string,
	options: { remote?: string; branch: string; claim: string },
): Promise<PushOutcome> {
	const remote = options.remote ?? "origin";
	try {
		checkRemote(remote);
		await checkLoopBranch(repo, options.branch);
		if (!/^[0-9a-f]{40,64}$/.test(options.claim)) throw new ClaimInputError(`not a commit id: ${options.claim}`);
	} catch (error) {
		return { status: "error", detail: describe(error) };
	}
	const ref = heads(options.branch);
	const args = ["push", "--porcelain", `--force-with-lease=${ref}:${options.claim}`, remote, `:${ref}`];
	const result = await runGit(repo, args).catch((error: unknown) => ({
		code: -1,
		stdout: "",
		stderr: describe(error),
	}));
	const line = parsePushPorcelain(result.stdout).find((pushed) => pushed.to === ref);
	if (result.code === 0 && line && line.flag !== "!") return { status: "pushed", commit: options.claim };
	const detail = new GitError(args, repo, (result.stderr || result.stdout).trim(), result.code).message;
	return line?.flag === "!" ? { status: "rejected", detail } : { status: "error", detail };
}
