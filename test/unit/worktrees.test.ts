/**
 * Unit tests: loop worktrees — where they live, the branch names, a second attempt's suffix, removal only when
 * merged.
 */
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	branchName,
	commitWorktree,
	createWorktree,
	readWorktrees,
	removeIfMerged,
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
	expect(await removeIfMerged(dir, { ...first, commit: work.commit })).toBe(true);
	expect(existsSync(first.path)).toBe(false);
	expect(execFileSync("git", ["branch", "--list", "loop/r1/1"], { cwd: dir, encoding: "utf8" })).toBe("");
	expect(readWorktrees(dir).find((r) => r.branch === "loop/r1/1")?.state).toBe("removed");
}
