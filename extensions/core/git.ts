/**
 * git for the core: execFile (no shell), an environment without variables that would point git at another
 * repository (as inside a hook), errors that name the command and carry git's words, and the few queries
 * several modules need (is a commit merged, which identity a commit needs).
 */
import { execFile } from "node:child_process";
import { harnessEnv } from "../shared/harness-env.ts";

/** A git command that failed: the command line and git's own words. */
export class GitError extends Error {
	constructor(
		readonly args: string[],
		readonly cwd: string,
		readonly stderr: string,
		readonly exitCode: number | string | undefined,
	) {
		super(`git ${args.join(" ")} failed in ${cwd}${exitCode === undefined ? "" : ` (exit ${exitCode})`}: ${stderr}`);
		this.name = "GitError";
	}
}

export interface GitResult {
	code: number;
	stdout: string;
	stderr: string;
}

/** Variables that would point git elsewhere than the cwd (e.g. when called from a hook). */
const REDIRECTING_ENV = [
	"GIT_DIR",
	"GIT_WORK_TREE",
	"GIT_INDEX_FILE",
	"GIT_OBJECT_DIRECTORY",
	"GIT_ALTERNATE_OBJECT_DIRECTORIES",
	"GIT_COMMON_DIR",
	"GIT_PREFIX",
];

function gitEnv(): NodeJS.ProcessEnv {
	// The harness's own variables too (tokens withheld from the agents: a credential helper may need them).
	const env = { ...process.env, ...harnessEnv() };
	for (const name of REDIRECTING_ENV) delete env[name];
	return env;
}

/** Runs git; resolves with the exit code (non-zero included), rejects only when git could not run at all. */
export function runGit(cwd: string, args: string[]): Promise<GitResult> {
	return new Promise((resolve, reject) => {
		execFile("git", args, { cwd, env: gitEnv(), maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
			if (!error) return resolve({ code: 0, stdout, stderr });
			const code = (error as NodeJS.ErrnoException).code;
			if (typeof code === "number") return resolve({ code, stdout, stderr });
			reject(new GitError(args, cwd, (stderr || error.message).trim(), code));
		});
	});
}

/** Runs git and returns its stdout; a non-zero exit throws a GitError. */
export async function git(cwd: string, args: string[]): Promise<string> {
	const result = await runGit(cwd, args);
	if (result.code !== 0) throw new GitError(args, cwd, (result.stderr || result.stdout).trim(), result.code);
	return result.stdout;
}

/** NUL-separated output (`-z`) → entries. */
export function nulList(out: string): string[] {
	return out.split("\0").filter((entry) => entry !== "");
}

/** True when `commit` is in `target` (git merge-base --is-ancestor). */
export async function isMerged(repo: string, commit: string, target = "HEAD"): Promise<boolean> {
	const args = ["merge-base", "--is-ancestor", commit, target];
	const result = await runGit(repo, args);
	if (result.code === 0) return true;
	if (result.code === 1) return false;
	throw new GitError(args, repo, result.stderr.trim(), result.code);
}

/** `-c` options giving a commit an identity, only when the repository has none (merges, worktree commits). */
export async function identityArgs(root: string): Promise<string[]> {
	// One call for both keys (exit 1 when neither is set).
	const found = await runGit(root, ["config", "--get-regexp", "^user\\.(name|email)$"]);
	const has = (key: string) =>
		found.stdout.split("\n").some((line) => line.startsWith(`${key} `) && line.length > key.length + 1);
	const args: string[] = [];
	if (!has("user.email")) {
		args.push("-c", "user.email=pi-loop-factory@localhost");
		if (!has("user.name")) args.push("-c", "user.name=pi-loop-factory");
	}
	return args;
}
