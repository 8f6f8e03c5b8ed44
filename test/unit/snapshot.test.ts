/** Unit tests: files changed between snapshots, in git and outside it. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isGitWorkTree, Snapshotter } from "../../extensions/loop/snapshot.ts";

function project(git: boolean): string {
	const dir = mkdtempSync(join(tmpdir(), "pi-loop-snap-"));
	writeFileSync(join(dir, "a.txt"), "a");
	writeFileSync(join(dir, "b.txt"), "b");
	if (git) {
		const env = {
			...process.env,
			GIT_AUTHOR_NAME: "t",
			GIT_AUTHOR_EMAIL: "t@t",
			GIT_COMMITTER_NAME: "t",
			GIT_COMMITTER_EMAIL: "t@t",
		};
		execFileSync("git", ["init", "-q"], { cwd: dir });
		execFileSync("git", ["add", "-A"], { cwd: dir });
		execFileSync("git", ["commit", "-qm", "i"], { cwd: dir, env });
	}
	return dir;
}

describe.each([true, false])("snapshots (git: %s)", (git) => {
	it("lists modified, added and deleted files but not loop state", async () => {
		const dir = project(git);
		expect(await isGitWorkTree(dir)).toBe(git);
		const snapshots = new Snapshotter(dir, git, join(dir, ".pi", "loop", "snapshots", "r"));
		const before = await snapshots.take();
		writeFileSync(join(dir, "a.txt"), "changed!");
		writeFileSync(join(dir, "c.txt"), "new");
		rmSync(join(dir, "b.txt"));
		mkdirSync(join(dir, ".pi", "loop"), { recursive: true });
		writeFileSync(join(dir, ".pi", "loop", "state.json"), "{}");
		expect(await snapshots.changedSince(before)).toEqual(["a.txt", "b.txt", "c.txt"]);
		const after = await snapshots.take();
		expect(await snapshots.changedSince(after)).toEqual([]);
		snapshots.dispose();
	});
});

describe("git snapshots", () => {
	it("leave the user's index and object store untouched", async () => {
		const dir = project(true);
		const objects = () => execFileSync("git", ["count-objects", "-v"], { cwd: dir, encoding: "utf8" });
		const before = objects();
		writeFileSync(join(dir, "new.txt"), "x");
		const snapshots = new Snapshotter(dir, true, join(dir, ".pi", "loop", "snapshots", "r"));
		await snapshots.take();
		snapshots.dispose();
		expect(execFileSync("git", ["status", "--porcelain"], { cwd: dir, encoding: "utf8" })).toBe("?? new.txt\n");
		expect(objects()).toBe(before);
	});
});
