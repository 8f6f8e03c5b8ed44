/**
 * Which files an iteration changed. In a git work tree the snapshot is a git
 * tree id written through a private temporary index (the user's index, work
 * tree and refs are untouched); outside git it is a size+mtime file listing.
 * Loop state under `.pi/loop/` is never counted as a change.
 */
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

export type Snapshot = { kind: "git"; tree: string } | { kind: "files"; files: Map<string, string> };

function git(cwd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
	return new Promise((resolve, reject) => {
		execFile("git", args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
			if (error) reject(new Error(`git ${args.join(" ")} failed: ${stderr || error.message}`));
			else resolve(stdout);
		});
	});
}

export async function isGitWorkTree(cwd: string): Promise<boolean> {
	try {
		return (await git(cwd, ["rev-parse", "--is-inside-work-tree"])).trim() === "true";
	} catch {
		return false;
	}
}

const EXCLUDE = [":(exclude).pi/loop", ":(exclude).pi/loop/**"];

async function gitSnapshot(cwd: string): Promise<Snapshot> {
	const dir = mkdtempSync(join(tmpdir(), "pi-loop-index-"));
	try {
		const index = join(dir, "index");
		const realIndex = (await git(cwd, ["rev-parse", "--path-format=absolute", "--git-path", "index"])).trim();
		// Starting from a copy of the real index lets git reuse its stat cache.
		if (existsSync(realIndex)) copyFileSync(realIndex, index);
		const env = { GIT_INDEX_FILE: index };
		await git(cwd, ["add", "-A", "--", ".", ...EXCLUDE], env);
		const tree = (await git(cwd, ["write-tree"], env)).trim();
		return { kind: "git", tree };
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

const SKIP_DIRS = new Set([".git", "node_modules"]);

function fileSnapshot(cwd: string): Snapshot {
	const files = new Map<string, string>();
	const walk = (dir: string) => {
		for (const entry of readdirSync(dir, { withFileTypes: true })) {
			const full = join(dir, entry.name);
			const rel = relative(cwd, full);
			if (rel === join(".pi", "loop")) continue;
			if (entry.isDirectory()) {
				if (!SKIP_DIRS.has(entry.name)) walk(full);
			} else if (entry.isFile()) {
				const st = statSync(full);
				files.set(rel, `${st.size}:${st.mtimeMs}`);
			}
		}
	};
	walk(cwd);
	return { kind: "files", files };
}

export async function takeSnapshot(cwd: string, useGit: boolean): Promise<Snapshot> {
	return useGit ? gitSnapshot(cwd) : fileSnapshot(cwd);
}

/** Paths that differ between two snapshots, sorted. */
export async function changedFiles(cwd: string, before: Snapshot, after: Snapshot): Promise<string[]> {
	if (before.kind === "git" && after.kind === "git") {
		if (before.tree === after.tree) return [];
		const out = await git(cwd, ["diff-tree", "-r", "--name-only", "--no-renames", before.tree, after.tree]);
		return out.split("\n").filter((line) => line !== "").sort();
	}
	if (before.kind === "files" && after.kind === "files") {
		const changed = new Set<string>();
		for (const [path, sig] of after.files) if (before.files.get(path) !== sig) changed.add(path);
		for (const path of before.files.keys()) if (!after.files.has(path)) changed.add(path);
		return [...changed].sort();
	}
	return [];
}
