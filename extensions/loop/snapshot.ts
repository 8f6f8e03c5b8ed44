/**
 * Which files an iteration changed. In a git work tree a snapshot is a git
 * tree id, written through the loop's own index and object directory (in
 * `.pi/loop/snapshots/<run>/`, reading the repository's objects as an
 * alternate), so the user's index, objects, work tree and refs are never
 * written. Outside git it is a size+mtime file listing. Loop state under
 * `.pi/loop/` is never counted as a change. One process spawn per snapshot.
 */
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";

export type Snapshot = { kind: "git"; tree: string } | { kind: "files"; files: Map<string, string> };

function run(file: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
	return new Promise((resolve, reject) => {
		execFile(
			file,
			args,
			{ cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
			(error, stdout, stderr) => {
				if (error) reject(new Error(`${file} ${args.join(" ")} failed: ${stderr || error.message}`));
				else resolve(stdout);
			},
		);
	});
}

export async function isGitWorkTree(cwd: string): Promise<boolean> {
	try {
		return (await run("git", ["rev-parse", "--is-inside-work-tree"], cwd)).trim() === "true";
	} catch {
		return false;
	}
}

// Stage everything (but loop state) into the private index. Without BASE: print the tree id.
// With BASE: list the paths that differ from that tree (no tree needs writing for that).
const GIT_SNAPSHOT = [
	'git add -A -- . ":(exclude).pi/loop" ":(exclude).pi/loop/**" || exit 1',
	'if [ -z "$BASE" ]; then exec git write-tree; fi',
	'exec git diff-index --cached --name-only --no-renames "$BASE"',
].join("\n");

const SKIP_DIRS = new Set([".git", "node_modules"]);

function fileSnapshot(cwd: string): Snapshot {
	const files = new Map<string, string>();
	const walk = (dir: string) => {
		for (const entry of readdirSync(dir, { withFileTypes: true })) {
			const full = join(dir, entry.name);
			if (relative(cwd, full) === join(".pi", "loop")) continue;
			if (entry.isDirectory()) {
				if (!SKIP_DIRS.has(entry.name)) walk(full);
			} else if (entry.isFile()) {
				const st = statSync(full);
				files.set(relative(cwd, full), `${st.size}:${st.mtimeMs}`);
			}
		}
	};
	walk(cwd);
	return { kind: "files", files };
}

function diffListings(before: Map<string, string>, after: Map<string, string>): string[] {
	const changed = new Set<string>();
	for (const [path, sig] of after) if (before.get(path) !== sig) changed.add(path);
	for (const path of before.keys()) if (!after.has(path)) changed.add(path);
	return [...changed].sort();
}

export class Snapshotter {
	private gitEnv: NodeJS.ProcessEnv | undefined;

	/** workDir holds the private index and objects; it survives a crash so a resumed run can diff. */
	constructor(
		private readonly cwd: string,
		private readonly useGit: boolean,
		private readonly workDir: string,
	) {}

	/** Private index (seeded from the real one so git reuses its stat cache) and object directory. */
	private async env(): Promise<NodeJS.ProcessEnv> {
		if (!this.gitEnv) {
			const paths = await run(
				"git",
				["rev-parse", "--path-format=absolute", "--git-path", "index", "--git-path", "objects"],
				this.cwd,
			);
			const [realIndex = "", realObjects = ""] = paths.trim().split("\n");
			const index = join(this.workDir, "index");
			const objects = join(this.workDir, "objects");
			mkdirSync(objects, { recursive: true });
			if (!existsSync(index) && existsSync(realIndex)) copyFileSync(realIndex, index);
			this.gitEnv = {
				GIT_INDEX_FILE: index,
				GIT_OBJECT_DIRECTORY: objects,
				GIT_ALTERNATE_OBJECT_DIRECTORIES: realObjects,
			};
		}
		return this.gitEnv;
	}

	private async git(base?: string): Promise<string[]> {
		const out = await run("/bin/sh", ["-c", GIT_SNAPSHOT], this.cwd, { ...(await this.env()), BASE: base ?? "" });
		return out.split("\n").filter((line) => line !== "");
	}

	async take(): Promise<Snapshot> {
		if (!this.useGit) return fileSnapshot(this.cwd);
		return { kind: "git", tree: (await this.git())[0] ?? "" };
	}

	/** Paths changed since `before`, sorted. */
	async changedSince(before: Snapshot): Promise<string[]> {
		if (before.kind === "git") return (await this.git(before.tree)).sort();
		const after = fileSnapshot(this.cwd);
		return after.kind === "files" ? diffListings(before.files, after.files) : [];
	}

	/** The unified diff from a baseline tree to the work tree now (git only; "" otherwise). */
	async diffSince(baseTree: string | undefined): Promise<string> {
		if (!this.useGit || !baseTree) return "";
		const tree = (await this.git())[0] ?? "";
		if (tree === baseTree) return "";
		return run("git", ["diff", "--no-color", "--no-ext-diff", baseTree, tree], this.cwd, await this.env());
	}

	dispose(): void {
		rmSync(this.workDir, { recursive: true, force: true });
		this.gitEnv = undefined;
	}
}
