/**
 * GitHub for the core, through the `gh` CLI only: execFile (no shell), a fixed set of invocations (auth status,
 * repo view, issue list/view/edit/comment, pr list, draft pr create), typed results parsed defensively, bodies
 * passed in a temp file outside the project, a per-call timeout, and a GhError that names the command, carries
 * gh's words (tokens masked) and says what kind of failure it was. Also issueBranch: an issue's branch name.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { harnessEnv } from "../shared/harness-env.ts";

export interface Repo {
	nameWithOwner: string;
	defaultBranch: string;
}

export interface Issue {
	number: number;
	title: string;
	body: string;
	/** Label names. */
	labels: string[];
	url: string;
	/** "OPEN" or "CLOSED" (issue view only). */
	state?: string;
}

export interface PullRequest {
	number: number;
	url: string;
	/** "OPEN", "CLOSED" or "MERGED". */
	state: string;
	headRefName: string;
}

export interface DraftPullRequest {
	base: string;
	head: string;
	title: string;
	body: string;
}

export interface GhOptions {
	/** The gh executable: a name looked up on PATH (the env's, when given) or a path. Default "gh". */
	gh?: string;
	cwd?: string;
	/** Variables added to this process's environment for gh. */
	env?: NodeJS.ProcessEnv;
	/** Per call; gh is killed after it. Default 60 s. */
	timeoutMs?: number;
}

/** What went wrong, for the caller's decision (retry later, tell the user to log in, …). */
export type GhErrorKind = "not-installed" | "auth" | "rate-limit" | "not-found" | "network" | "other";

/** What a GhError says beyond the command: gh's stderr, its exit, and the kind. */
export interface GhFailure {
	kind: GhErrorKind;
	/** gh's stderr, tokens masked ("" when gh said nothing or the failure is in what it printed on stdout). */
	stderr?: string;
	exitCode?: number | string;
	/** Shown instead of stderr. */
	detail?: string;
	timedOut?: boolean;
}

/** A gh call that failed: the command line run, gh's stderr (tokens masked), the exit code and a kind. */
export class GhError extends Error {
	readonly command: string;
	readonly kind: GhErrorKind;
	readonly stderr: string;
	readonly exitCode: number | string | undefined;
	readonly timedOut: boolean;
	constructor(
		readonly args: string[],
		failure: GhFailure,
	) {
		const command = commandLine(args);
		const { kind, stderr = "", exitCode, detail, timedOut = false } = failure;
		const exit = exitCode === undefined ? "" : ` (exit ${exitCode})`;
		super(`${command} failed${exit}: ${detail ?? (stderr || "no output on stderr")}`);
		this.name = "GhError";
		this.command = command;
		this.kind = kind;
		this.stderr = stderr;
		this.exitCode = exitCode;
		this.timedOut = timedOut;
	}
}

export interface GitHub {
	/** `gh auth status`; a GhError (kind "auth" when logged out) otherwise. */
	checkAuth(): Promise<void>;
	/** The named repository, or without a name the one gh finds for the cwd. */
	viewRepo(repo?: string): Promise<Repo>;
	/** Open issues carrying `label`, at most `limit`. */
	listIssues(repo: string, label: string, limit: number): Promise<Issue[]>;
	viewIssue(repo: string, issue: number): Promise<Issue>;
	/** Adds and/or removes one label. */
	editIssueLabels(repo: string, issue: number, change: { add?: string; remove?: string }): Promise<void>;
	commentOnIssue(repo: string, issue: number, body: string): Promise<void>;
	/** Pull requests from `head` in any state. */
	listPullRequests(repo: string, head: string): Promise<PullRequest[]>;
	createDraftPullRequest(repo: string, pr: DraftPullRequest): Promise<PullRequest>;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** A command line for messages: arguments with spaces or quotes are single-quoted. */
function commandLine(args: string[]): string {
	const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);
	return ["gh", ...args].map(quote).join(" ");
}

const TOKEN_PATTERN = /\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})/g;
export const TOKEN_VARIABLES = ["GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"];

/** Text with anything that looks like a GitHub token, or equals one of the token variables, masked. */
export function maskTokens(text: string, env: NodeJS.ProcessEnv = process.env): string {
	let masked = text.replace(TOKEN_PATTERN, "[token]");
	for (const name of TOKEN_VARIABLES) {
		const token = env[name];
		if (token && token.length >= 8) masked = masked.replaceAll(token, "[token]");
	}
	return masked;
}

/** gh's words per kind, tried in order: rate limits first, as GitHub's rate-limit text mentions authentication. */
const KIND_PATTERNS: [GhErrorKind, RegExp][] = [
	["rate-limit", /rate limit|\b403\b.*\brate\b|\brate\b.*\b403\b/is],
	["auth", /\bauth\b|authenticat|\blog ?in\b|logged in(?:to)?\b|\b401\b|bad credentials/i],
	["network", /\bHTTP 5\d\d\b|error connecting|could not resolve host|no such host|connection (?:refused|reset)/i],
	["network", /i\/o timeout|timed out|TLS handshake|\bEOF\b|network/i],
	["not-found", /could not resolve to an? |not found|\b404\b|no such (?:issue|pull request|repository)/i],
];

/** The kind of a failure from gh's stderr. */
export function ghErrorKind(stderr: string): GhErrorKind {
	return KIND_PATTERNS.find(([, pattern]) => pattern.test(stderr))?.[0] ?? "other";
}

/** Runs gh; stdout on exit 0, otherwise a GhError. */
function runGh(args: string[], options: GhOptions): Promise<string> {
	const env = {
		...process.env,
		...harnessEnv(),
		...options.env,
		GH_PROMPT_DISABLED: "1",
		GH_NO_UPDATE_NOTIFIER: "1",
		NO_COLOR: "1",
	};
	const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
	const execOptions = { cwd: options.cwd, env, timeout, killSignal: "SIGKILL" as const, maxBuffer: 64 * 1024 * 1024 };
	return new Promise((resolve, reject) => {
		execFile(options.gh ?? "gh", args, execOptions, (error, stdout, stderr) => {
			if (!error) return resolve(stdout);
			const words = maskTokens(stderr.trim(), env);
			const code = (error as NodeJS.ErrnoException).code;
			if (code === "ENOENT") {
				const detail = `${options.gh ?? "gh"} was not found (is the GitHub CLI installed and on PATH?)`;
				return reject(new GhError(args, { kind: "not-installed", stderr: words, detail }));
			}
			if ((error as { killed?: boolean }).killed && (error as { signal?: string }).signal === "SIGKILL") {
				const detail = `timed out after ${timeout} ms; gh was killed${words ? `: ${words}` : ""}`;
				return reject(new GhError(args, { kind: "network", stderr: words, detail, timedOut: true }));
			}
			const exit = typeof code === "number" ? code : (code ?? (error as { signal?: string }).signal);
			const detail = words ? undefined : maskTokens(error.message, env);
			const kind = typeof code === "number" ? ghErrorKind(words) : "other";
			reject(new GhError(args, { kind, stderr: words, exitCode: exit, detail }));
		});
	});
}

/** Runs gh with the body in a temp file (outside the project, removed after) passed as `--body-file`. */
async function runGhWithBody(
	args: string[],
	body: string,
	options: GhOptions,
): Promise<{ args: string[]; stdout: string }> {
	const dir = await mkdtemp(join(tmpdir(), "pi-loop-gh-"));
	try {
		const file = join(dir, "body.md");
		await writeFile(file, body, { mode: 0o600 });
		const withBody = [...args, "--body-file", file];
		return { args: withBody, stdout: await runGh(withBody, options) };
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
}

// Defensive parsing: gh's JSON is checked field by field, and a wrong shape is a GhError naming the command.

type Json = Record<string, unknown>;

function parseJson(args: string[], stdout: string): unknown {
	try {
		return JSON.parse(stdout);
	} catch {
		const shown = stdout.trim().slice(0, 200) || "(nothing)";
		throw new GhError(args, { kind: "other", detail: `printed something that is not JSON: ${shown}` });
	}
}

function shapeError(args: string[], what: string): GhError {
	return new GhError(args, { kind: "other", detail: `printed unexpected JSON: ${what}` });
}

function object(args: string[], value: unknown, what: string): Json {
	if (typeof value !== "object" || value === null || Array.isArray(value))
		throw shapeError(args, `${what} not an object`);
	return value as Json;
}

function list(args: string[], value: unknown): unknown[] {
	if (!Array.isArray(value)) throw shapeError(args, "not a list");
	return value;
}

function text(args: string[], item: Json, field: string, optional = false): string {
	const value = item[field];
	if (typeof value === "string") return value;
	if (optional && (value === null || value === undefined)) return "";
	throw shapeError(args, `${field} is not a string`);
}

function positive(args: string[], item: Json, field: string): number {
	const value = item[field];
	if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return value;
	throw shapeError(args, `${field} is not a positive whole number`);
}

/** gh gives labels as `{ name, … }`; plain strings are taken too. */
function labelNames(args: string[], value: unknown): string[] {
	if (value === undefined || value === null) return [];
	return list(args, value).map((label) =>
		typeof label === "string" ? label : text(args, object(args, label, "a label is"), "name"),
	);
}

function toIssue(args: string[], value: unknown): Issue {
	const item = object(args, value, "an issue is");
	const issue: Issue = {
		number: positive(args, item, "number"),
		title: text(args, item, "title"),
		body: text(args, item, "body", true),
		labels: labelNames(args, item.labels),
		url: text(args, item, "url"),
	};
	if (item.state !== undefined) issue.state = text(args, item, "state");
	return issue;
}

function toPullRequest(args: string[], value: unknown): PullRequest {
	const item = object(args, value, "a pull request is");
	return {
		number: positive(args, item, "number"),
		url: text(args, item, "url"),
		state: text(args, item, "state"),
		headRefName: text(args, item, "headRefName"),
	};
}

// Inputs are checked before gh runs: a repository name or number gh would misread is a usage error here.

function checkRepo(repo: string): string {
	if (!/^(?:[A-Za-z0-9.-]+\/)?[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repo) || repo.startsWith("-")) {
		throw new RangeError(`gh: a repository is OWNER/NAME (or HOST/OWNER/NAME), not ${JSON.stringify(repo)}`);
	}
	return repo;
}

function checkNumber(what: string, n: number): string {
	if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`gh: ${what} must be a positive whole number, not ${n}`);
	return String(n);
}

function checkText(what: string, value: string): string {
	if (value.trim() === "") throw new RangeError(`gh: ${what} must not be empty`);
	return value;
}

/** A client running `options.gh` (default "gh") for the invocations GitHub offers above, and no others. */
export function gitHub(options: GhOptions = {}): GitHub {
	const json = async (args: string[]) => parseJson(args, await runGh(args, options));
	return {
		async checkAuth() {
			await runGh(["auth", "status"], options);
		},
		async viewRepo(repo) {
			const args = ["repo", "view", ...(repo === undefined ? [] : ["--repo", checkRepo(repo)])];
			args.push("--json", "nameWithOwner,defaultBranchRef");
			const item = object(args, await json(args), "the repository is");
			const nameWithOwner = text(args, item, "nameWithOwner");
			const ref = item.defaultBranchRef;
			if (ref === null || ref === undefined) {
				throw new GhError(args, {
					kind: "other",
					detail: `${nameWithOwner} has no default branch (empty repository?)`,
				});
			}
			return { nameWithOwner, defaultBranch: text(args, object(args, ref, "defaultBranchRef is"), "name") };
		},
		async listIssues(repo, label, limit) {
			const args = ["issue", "list", "--repo", checkRepo(repo), "--label", checkText("the label", label)];
			args.push("--state", "open", "--json", "number,title,body,labels,url", "--limit", checkNumber("limit", limit));
			return list(args, await json(args)).map((item) => toIssue(args, item));
		},
		async viewIssue(repo, issue) {
			const args = ["issue", "view", checkNumber("the issue", issue), "--repo", checkRepo(repo)];
			args.push("--json", "number,title,body,labels,url,state");
			return toIssue(args, await json(args));
		},
		async editIssueLabels(repo, issue, change) {
			const args = ["issue", "edit", checkNumber("the issue", issue), "--repo", checkRepo(repo)];
			if (change.add !== undefined) args.push("--add-label", checkText("the label to add", change.add));
			if (change.remove !== undefined) args.push("--remove-label", checkText("the label to remove", change.remove));
			if (change.add === undefined && change.remove === undefined) {
				throw new RangeError("gh: an issue edit adds or removes a label");
			}
			await runGh(args, options);
		},
		async commentOnIssue(repo, issue, body) {
			const args = ["issue", "comment", checkNumber("the issue", issue), "--repo", checkRepo(repo)];
			await runGhWithBody(args, checkText("the comment", body), options);
		},
		async listPullRequests(repo, head) {
			const args = ["pr", "list", "--repo", checkRepo(repo), "--head", checkText("the head branch", head)];
			args.push("--state", "all", "--json", "number,url,state,headRefName");
			return list(args, await json(args)).map((item) => toPullRequest(args, item));
		},
		async createDraftPullRequest(repo, pr) {
			const args = ["pr", "create", "--repo", checkRepo(repo), "--draft"];
			args.push("--base", checkText("the base branch", pr.base), "--head", checkText("the head branch", pr.head));
			args.push("--title", checkText("the title", pr.title));
			const { args: run, stdout } = await runGhWithBody(args, pr.body, options);
			const url = stdout.trim().split("\n").at(-1)?.trim() ?? "";
			const number = /^https?:\/\/\S+\/pull\/(\d+)$/.exec(url)?.[1];
			if (number === undefined) {
				const shown = stdout.trim().slice(0, 200) || "(nothing)";
				throw new GhError(run, { kind: "other", detail: `printed no pull request URL: ${shown}` });
			}
			return { number: Number(number), url, state: "OPEN", headRefName: pr.head };
		},
	};
}

/**
 * The branch for an issue: `loop/issue-<n>-<slug>`, the slug from the (untrusted) title — accents dropped,
 * lowercased, every run of anything but [a-z0-9] one "-", no "-" at the ends, at most 40 characters, "task" when
 * nothing is left. Only [a-z0-9-] after "loop/issue-", so always a valid and harmless git ref name.
 */
export function issueBranch(n: number, title: string): string {
	checkNumber("the issue", n);
	const slug = title
		.toLowerCase()
		.normalize("NFKD")
		.replace(/[\u0300-\u036f]/g, "")
		.replace(/[^a-z0-9]+/g, "-")
		.replace(/^-+|-+$/g, "")
		.slice(0, 40)
		.replace(/-+$/, "");
	return `loop/issue-${n}-${slug || "task"}`;
}
