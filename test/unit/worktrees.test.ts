/** Unit tests: loop worktrees — where they live, branch names, a leftover's suffix, removal only when merged. */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	branchName,
	commitWorktree,
	createWorktree,
	readWorktrees,
	removeMerged,
	type WorktreeRecord,
	worktreePath,
} from "../../extensions/core/worktrees.ts";
import { tempTree } from "../support/temp-tree.ts";

function repo(): string {
	const dir = tempTree("worktrees-", { "a.txt": "a\n", ".gitignore": "node_modules/\n" });
	const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8" });
	git("init", "-q", "-b", "main");
	git("-c", "user.name=t", "-c", "user.email=t@t", "add", ".");
	git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base");
	return dir;
}

/** removeMerged for one record: whether it was removed. */
const removeIfMerged = async (dir: string, record: WorktreeRecord) =>
	(await removeMerged(dir, [record])).removed.length === 1;

describe("worktrees", () => {
	it("live under $XDG_CACHE_HOME (else ~/.cache), per repository and run, on loop/<run>/<n>", () => {
		const path = worktreePath("/x/my-repo", "run-1", 3, { XDG_CACHE_HOME: "/cache" });
		expect(path).toMatch(/^\/cache\/pi-loop-factory\/worktrees\/my-repo-[0-9a-f]{10}\/run-1\/3$/);
		expect(worktreePath("/x/my-repo", "run-1", 3, {})).toContain("/.cache/pi-loop-factory/worktrees/");
		expect(branchName("run-1", 3)).toBe("loop/run-1/3");
	});

	it("commit the agent's work (not the linked node_modules), suffix a leftover, remove only when merged", async () => {
		const dir = repo();
		process.env.XDG_CACHE_HOME = join(dir, "..", `${dir.split("/").at(-1)}-cache`);
		try {
			await steps(dir);
		} finally {
			delete process.env.XDG_CACHE_HOME;
		}
	});
});

describe("removeMerged", () => {
	it("removes the merged ones of several worktrees at once and says why it keeps each other one", async () => {
		const dir = repo();
		process.env.XDG_CACHE_HOME = join(dir, "..", `${dir.split("/").at(-1)}-cache`);
		try {
			const made = [];
			for (const n of [1, 2, 3]) {
				const record = await createWorktree(dir, "r2", n);
				writeFileSync(join(record.path, `f${n}.txt`), `${n}\n`);
				made.push({ ...record, commit: (await commitWorktree(record, `f${n}`)).commit });
			}
			const [one, two, three] = made as [WorktreeRecord, WorktreeRecord, WorktreeRecord];
			for (const record of [one, two]) {
				execFileSync(
					"git",
					["-c", "user.name=t", "-c", "user.email=t@t", "merge", "-q", "--no-edit", record.commit ?? ""],
					{
						cwd: dir,
					},
				);
			}
			// Two's branch got a commit after its merge: kept with the branch and worktree.
			writeFileSync(join(two.path, "later.txt"), "later\n");
			await commitWorktree(two, "later");
			const { removed, kept } = await removeMerged(dir, made);
			expect(removed.map((r) => r.branch)).toEqual(["loop/r2/1"]);
			expect(kept.map((k) => [k.record.branch, k.reason])).toEqual([
				["loop/r2/2", "its branch has commits that are not merged"],
				["loop/r2/3", "its commit is not merged"],
			]);
			expect(existsSync(one.path)).toBe(false);
			expect(existsSync(two.path) && existsSync(three.path)).toBe(true);
			const branches = execFileSync("git", ["branch", "--list", "--format=%(refname:short)", "loop/*"], {
				cwd: dir,
				encoding: "utf8",
			});
			expect(
				branches
					.split("\n")
					.map((b) => b.trim())
					.filter(Boolean),
			).toEqual(["loop/r2/2", "loop/r2/3"]);
		} finally {
			delete process.env.XDG_CACHE_HOME;
		}
	});
});

async function steps(dir: string): Promise<void> {
	execFileSync("mkdir", ["-p", join(dir, "node_modules", "x")]);
	const first = await createWorktree(dir, "r1", 1);
	expect(first.branch).toBe("loop/r1/1");
	expect(existsSync(join(first.path, "node_modules", "x"))).toBe(true);
	writeFileSync(join(first.path, "b.txt"), "b\n");
	const work = await commitWorktree(first, "add b");
	expect(work.files).toEqual(["b.txt"]);
	expect(work.diffStat).toContain("b.txt");
	// A crash mid-spawn left step 1's worktree: the next attempt's gets a suffix, the old one is kept.
	const second = await createWorktree(dir, "r1", 1);
	expect(second.branch).toBe("loop/r1/1-2");
	expect(existsSync(first.path)).toBe(true);
	// Not merged: nothing is removed.
	expect(await removeIfMerged(dir, { ...first, commit: work.commit })).toBe(false);
	expect(existsSync(first.path)).toBe(true);
	execFileSync("git", ["merge", "-q", "--ff-only", work.commit], { cwd: dir });
	// Merged, but someone edited in the worktree since: kept.
	writeFileSync(join(first.path, "b.txt"), "edited after the commit\n");
	expect(await removeIfMerged(dir, { ...first, commit: work.commit })).toBe(false);
	expect(readFileSync(join(first.path, "b.txt"), "utf8")).toBe("edited after the commit\n");
	expect(existsSync(join(first.path, "node_modules", "x"))).toBe(true); // the link is back
	execFileSync("git", ["checkout", "-q", "--", "b.txt"], { cwd: first.path });
	// An untracked file keeps it too.
	writeFileSync(join(first.path, "notes.txt"), "mine\n");
	expect(await removeIfMerged(dir, { ...first, commit: work.commit })).toBe(false);
	expect(readFileSync(join(first.path, "notes.txt"), "utf8")).toBe("mine\n");
	execFileSync("rm", [join(first.path, "notes.txt")]);
	// A record pointing somewhere this package did not make: never removed.
	expect(await removeIfMerged(dir, { ...first, path: dir, commit: work.commit })).toBe(false);
	expect(await removeIfMerged(dir, { ...first, commit: work.commit })).toBe(true);
	expect(existsSync(first.path)).toBe(false);
	expect(execFileSync("git", ["branch", "--list", "loop/r1/1"], { cwd: dir, encoding: "utf8" })).toBe("");
	expect(readWorktrees(dir).find((r) => r.branch === "loop/r1/1")?.state).toBe("removed");
}
