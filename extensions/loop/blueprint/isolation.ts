/**
 * Isolated spawns of a blueprint run: a worktree per spawn (core/worktrees.ts),
 * its commit afterwards, and factory.merge bringing branches back through the
 * merge-back rules (core/merge-back.ts); every step is recorded in
 * `.pi/loop/worktrees.json`, and a worktree goes only once its commit is proven merged.
 */
import { join, relative } from "node:path";
import type { CheckRun } from "../../core/check-runner.ts";
import type { MergeResult } from "../../core/factory-api.ts";
import { runGit as git } from "../../core/git.ts";
import { type MergeOutcome, mergeBackAll } from "../../core/merge-back.ts";
import {
	commitWorktree,
	createWorktree,
	readWorktrees,
	removeMerged,
	saveWorktree,
	type WorktreeRecord,
	worktreePath,
} from "../../core/worktrees.ts";
import type { Services } from "../../shared/services.ts";
import type { BlueprintDeps } from "./factory.ts";

/** The repository root when `cwd` is inside a git work tree with at least one commit. */
export async function repositoryRoot(cwd: string): Promise<string | undefined> {
	try {
		const top = await git(cwd, ["rev-parse", "--show-toplevel"]);
		if (top.code !== 0) return undefined;
		const head = await git(cwd, ["rev-parse", "--verify", "--quiet", "HEAD"]);
		return head.code === 0 ? top.stdout.trim() : undefined;
	} catch {
		return undefined; // git itself is missing
	}
}

type RunCommand = (command: string, cwd: string) => Promise<CheckRun>;

export function worktreeIsolation(
	repoRoot: string,
	cwd: string,
	runId: string,
	gates: Services["gates"] | undefined,
	runCommand: RunCommand,
): NonNullable<BlueprintDeps["isolation"]> {
	// The project may be a folder inside the repository: spawns work in the same folder of their worktree.
	const inside = relative(repoRoot, cwd);
	const records = new Map<string, { record: WorktreeRecord; loopDone: () => void }>();
	const cleanups: Promise<unknown>[] = [];
	return {
		async settle() {
			await Promise.all(cleanups.splice(0));
		},
		async create(n) {
			const record = await createWorktree(repoRoot, runId, n);
			const path = join(record.path, inside);
			// As in the project itself: on-done gates stay quiet in the spawn unless it asks for them.
			records.set(path, { record, loopDone: gates?.loopStarted(path, undefined) ?? (() => undefined) });
			return { path };
		},
		async commit(worktree, message) {
			const entry = records.get(worktree.path);
			if (!entry) throw new Error(`no worktree recorded for ${worktree.path}`);
			records.delete(worktree.path);
			entry.loopDone();
			await gates?.release(worktree.path); // its language servers are not needed any more
			const { record } = entry;
			const work = await commitWorktree(record, message);
			saveWorktree(repoRoot, { ...record, commit: work.commit, state: "committed" });
			const files = work.files.map((f) => relative(inside, f));
			return { branch: record.branch, commit: work.commit, diffStat: work.diffStat, filesChanged: files };
		},
		async merge(items, check): Promise<MergeResult[]> {
			const registered = readWorktrees(repoRoot);
			const outcomes = await mergeBackAll(repoRoot, items, {
				scratchRoot: join(worktreePath(repoRoot, runId, 0), "..", "scratch"),
				check:
					check === undefined
						? undefined
						: async (where) => {
								const run = await runCommand(check, join(where, inside));
								return { passed: run.exitCode === 0, output: run.output };
							},
			});
			const merged: WorktreeRecord[] = [];
			const results = items.map((item, i) => {
				const outcome = outcomes[i] as MergeOutcome;
				const detail = outcome.status === "merged" ? undefined : outcome.detail;
				const record = registered.find((r) => r.branch === item.branch);
				if (record) {
					saveWorktree(repoRoot, { ...record, commit: item.commit, state: outcome.status, detail });
					if (outcome.status === "merged") merged.push({ ...record, ...item });
				}
				return {
					branch: item.branch,
					commit: item.commit,
					status: outcome.status,
					detail,
					files: outcome.status === "conflict" ? outcome.files : undefined,
				};
			});
			// The merged worktrees' removal overlaps what follows; what fails to go stays (listed, prunable).
			if (merged.length > 0) cleanups.push(removeMerged(repoRoot, merged).catch(() => undefined));
			return results;
		},
	};
}
