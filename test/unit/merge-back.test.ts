/** Unit tests: merging an item's branch back into the user's branch, with real git in temp repositories. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isMerged, type MergeOutcome, mergeBack, mergeBackAll, parseStatus } from "../../extensions/core/merge-back.ts";

// Git here sees no system or global config and no identity from the environment: each repository configures its
// own (or none, for the identity test). This changes only this test file's worker process.
beforeAll(() => {
	const home = mkdtempSync(join(tmpdir(), "pi-merge-home-"));
	writeFileSync(join(home, "gitconfig"), "");
	process.env.GIT_CONFIG_GLOBAL = join(home, "gitconfig");
	process.env.GIT_CONFIG_NOSYSTEM = "1";
	process.env.HOME = home;
	for (const name of ["EMAIL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"]) {
		delete process.env[name];
	}
});

const SETUP_IDENTITY = {
	GIT_AUTHOR_NAME: "Setup",
	GIT_AUTHOR_EMAIL: "setup@test.invalid",
	GIT_COMMITTER_NAME: "Setup",
	GIT_COMMITTER_EMAIL: "setup@test.invalid",
};

interface Fixture {
	root: string;
	project: string;
	scratchRoot: string;
	git(cwd: string, ...args: string[]): string;
	/** Writes files and commits them in `cwd`. */
	commit(cwd: string, files: Record<string, string>, message: string): string;
	/** A new branch in its own worktree off the project's HEAD, with one commit of `files`; its worktree and tip. */
	item(branch: string, files: Record<string, string>): { dir: string; commit: string };
	read(path: string): string;
	write(path: string, text: string): void;
}

const BASE = { "a.txt": "a1\na2\na3\n", "b.txt": "b1\n", "c.txt": "c1\n" };

function fixture(options: { identity?: boolean } = {}): Fixture {
	const root = mkdtempSync(join(tmpdir(), "pi-merge-back-"));
	const project = join(root, "project");
	const scratchRoot = join(root, "scratch");
	// Setup commits always have an identity; what merge-back sees comes from the repository's config only.
	const git = (cwd: string, ...args: string[]) =>
		execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...SETUP_IDENTITY } });
	const write = (cwd: string, files: Record<string, string>) => {
		for (const [path, text] of Object.entries(files)) {
			mkdirSync(dirname(join(cwd, path)), { recursive: true });
			writeFileSync(join(cwd, path), text);
		}
	};
	const commit = (cwd: string, files: Record<string, string>, message: string) => {
		write(cwd, files);
		git(cwd, "add", "-A");
		git(cwd, "commit", "-qm", message);
		return git(cwd, "rev-parse", "HEAD").trim();
	};
	execFileSync("git", ["init", "-q", "-b", "main", project]);
	if (options.identity === false) {
		// Without this, git might guess an identity from the user and host names and commit anyway.
		git(project, "config", "user.useConfigOnly", "true");
	} else {
		git(project, "config", "user.name", "User");
		git(project, "config", "user.email", "user@test.invalid");
	}
	commit(project, BASE, "base");
	return {
		root,
		project,
		scratchRoot,
		git,
		commit,
		item(branch, files) {
			const dir = join(root, `item-${branch}`);
			git(project, "worktree", "add", "-q", "-b", branch, dir);
			return { dir, commit: commit(dir, files, `item ${branch}`) };
		},
		read: (path) => readFileSync(join(project, path), "utf8"),
		write: (path, text) => writeFileSync(join(project, path), text),
	};
}

/** What the user can see of their project: branch, tip, status, index and the files' bytes. */
function userState(fx: Fixture, paths: string[]) {
	return {
		branch: fx.git(fx.project, "symbolic-ref", "--short", "HEAD").trim(),
		head: fx.git(fx.project, "rev-parse", "HEAD").trim(),
		status: fx.git(fx.project, "status", "--porcelain", "--untracked-files=all"),
		staged: fx.git(fx.project, "diff", "--cached"),
		files: Object.fromEntries(paths.map((path) => [path, existsSync(join(fx.project, path)) ? fx.read(path) : null])),
	};
}

/** No scratch worktree left: git knows only the project and the items' worktrees, and the scratch root is empty. */
function expectNoScratch(fx: Fixture): void {
	const listed = fx
		.git(fx.project, "worktree", "list", "--porcelain")
		.split("\n")
		.filter((line) => line.startsWith("worktree "));
	for (const line of listed) expect(line).not.toContain(fx.scratchRoot);
	if (existsSync(fx.scratchRoot)) expect(readdirSync(fx.scratchRoot)).toEqual([]);
}

function expectBranchKept(fx: Fixture, branch: string, commit: string): void {
	expect(fx.git(fx.project, "rev-parse", `refs/heads/${branch}`).trim()).toBe(commit);
}

const ITEM_A = { "a.txt": "a1 by item\na2\na3\n" };

describe("mergeBack", () => {
	it("fast-forwards the user's branch when it has not moved", async () => {
		const fx = fixture();
		const item = fx.item("item-1", { ...ITEM_A, "new.txt": "new\n" });
		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(outcome).toEqual({ status: "merged", commit: item.commit, fastForward: true });
		expect(fx.git(fx.project, "rev-parse", "HEAD").trim()).toBe(item.commit);
		expect(fx.read("a.txt")).toBe(ITEM_A["a.txt"]);
		expect(fx.read("new.txt")).toBe("new\n");
		expect(fx.git(fx.project, "status", "--porcelain")).toBe("");
		expectBranchKept(fx, "item-1", item.commit);
		expectNoScratch(fx);
	});

	it("makes a merge commit when the user's branch moved, keeping both changes", async () => {
		const fx = fixture();
		const item = fx.item("item-1", ITEM_A);
		const user = fx.commit(fx.project, { "b.txt": "b1 by user\n" }, "user work");
		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(outcome).toMatchObject({ status: "merged", fastForward: false });
		const head = fx.git(fx.project, "rev-parse", "HEAD").trim();
		expect((outcome as { commit: string }).commit).toBe(head);
		expect(fx.git(fx.project, "rev-list", "--parents", "-n1", "HEAD").trim().split(" ")).toEqual([
			head,
			user,
			item.commit,
		]);
		expect(fx.git(fx.project, "log", "-1", "--format=%s").trim()).toBe("Merge branch 'item-1' into main");
		expect(fx.read("a.txt")).toBe(ITEM_A["a.txt"]);
		expect(fx.read("b.txt")).toBe("b1 by user\n");
		expect(fx.git(fx.project, "status", "--porcelain")).toBe("");
		expect(await isMerged(fx.project, item.commit)).toBe(true);
		expectBranchKept(fx, "item-1", item.commit);
		expectNoScratch(fx);
	});

	it("reports a conflict with its files and leaves the user's branch, tree and the item's branch alone", async () => {
		const fx = fixture();
		const item = fx.item("item-1", { ...ITEM_A, "c.txt": "c1 by item\n" });
		fx.commit(fx.project, { "a.txt": "a1 by user\na2\na3\n", "c.txt": "c1 by user\n" }, "user work");
		fx.write("b.txt", "b1 uncommitted\n");
		const before = userState(fx, ["a.txt", "b.txt", "c.txt"]);
		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(outcome.status).toBe("conflict");
		const conflict = outcome as Extract<MergeOutcome, { status: "conflict" }>;
		expect(conflict.files).toEqual(["a.txt", "c.txt"]);
		expect(conflict.detail).toContain("item-1");
		expect(conflict.detail).toContain("a.txt");
		expect(userState(fx, ["a.txt", "b.txt", "c.txt"])).toEqual(before);
		expectBranchKept(fx, "item-1", item.commit);
		expect(await isMerged(fx.project, item.commit)).toBe(false);
		expectNoScratch(fx);
	});

	it("runs the check on the merged result in the scratch worktree; a failure leaves the branch unchanged", async () => {
		const fx = fixture();
		const item = fx.item("item-1", ITEM_A);
		const before = userState(fx, ["a.txt"]);
		const seen: { cwd: string; a: string }[] = [];
		const outcome = await mergeBack(
			fx.project,
			{ branch: "item-1", commit: item.commit },
			{
				scratchRoot: fx.scratchRoot,
				check: async (cwd) => {
					seen.push({ cwd, a: readFileSync(join(cwd, "a.txt"), "utf8") });
					return { passed: false, output: "1 test failed: boom" };
				},
			},
		);
		expect(outcome).toMatchObject({ status: "check-failed", output: "1 test failed: boom" });
		expect(seen).toHaveLength(1);
		expect(seen[0]?.cwd.startsWith(fx.scratchRoot)).toBe(true);
		expect(seen[0]?.a).toBe(ITEM_A["a.txt"]);
		expect(userState(fx, ["a.txt"])).toEqual(before);
		expectBranchKept(fx, "item-1", item.commit);
		expectNoScratch(fx);
	});

	it("a check that passes lets the merge through", async () => {
		const fx = fixture();
		const item = fx.item("item-1", ITEM_A);
		const check = async () => ({ passed: true, output: "ok" });
		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, { ...fx, check });
		expect(outcome).toEqual({ status: "merged", commit: item.commit, fastForward: true });
		expectNoScratch(fx);
	});

	it.each([
		["fast-forward", false],
		["merge commit", true],
	])("keeps the user's unrelated uncommitted, staged and untracked work byte for byte (%s)", async (_, moved) => {
		const fx = fixture();
		const item = fx.item("item-1", { ...ITEM_A, "added-by-item.txt": "item\n" });
		if (moved) fx.commit(fx.project, { "d.txt": "d\n" }, "user commit");
		fx.write("b.txt", "b1 changed, not staged\r\nno newline at end");
		fx.write("staged-new.txt", "staged\n");
		fx.git(fx.project, "add", "staged-new.txt");
		fx.write("c.txt", "c1 staged\n");
		fx.git(fx.project, "add", "c.txt");
		fx.write("c.txt", "c1 staged, then changed again\n");
		fx.write("untracked.txt", "untracked \u00e9\n");
		const userPaths = ["b.txt", "c.txt", "staged-new.txt", "untracked.txt"];
		const before = userState(fx, userPaths);
		expect(before.status).toBe(" M b.txt\nMM c.txt\nA  staged-new.txt\n?? untracked.txt\n");

		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(outcome).toMatchObject({ status: "merged", fastForward: !moved });
		const after = userState(fx, userPaths);
		expect(after.status).toBe(before.status);
		expect(after.staged).toBe(before.staged);
		expect(after.files).toEqual(before.files);
		expect(fx.read("a.txt")).toBe(ITEM_A["a.txt"]);
		expect(fx.read("added-by-item.txt")).toBe("item\n");
		expect(fx.git(fx.project, "stash", "list")).toBe("");
		expectNoScratch(fx);
	});

	it.each([
		["modified", (fx: Fixture) => fx.write("a.txt", "a1 by user, uncommitted\n")],
		[
			"staged",
			(fx: Fixture) => {
				fx.write("a.txt", "a1 staged by user\n");
				fx.git(fx.project, "add", "a.txt");
			},
		],
		["untracked", (fx: Fixture) => fx.write("new.txt", "user's own new.txt\n")],
		[
			"ignored",
			(fx: Fixture) => {
				fx.commit(fx.project, { ".gitignore": "new.txt\n" }, "ignore new.txt");
				fx.write("new.txt", "user's ignored new.txt\n");
			},
		],
	])("blocks when the user has %s work in a file the item touched, changing nothing", async (kind, userWork) => {
		const fx = fixture();
		const item = fx.item("item-1", { ...ITEM_A, "new.txt": "item's new.txt\n" });
		userWork(fx);
		const paths = ["a.txt", "new.txt", "b.txt"];
		const before = userState(fx, paths);
		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(outcome.status).toBe("blocked");
		const detail = (outcome as { detail: string }).detail;
		expect(detail).toContain(kind === "modified" || kind === "staged" ? "a.txt" : "new.txt");
		expect(userState(fx, paths)).toEqual(before);
		expect(existsSync(fx.scratchRoot)).toBe(false);
		expectNoScratch(fx);
	});

	it("blocks when the user has an ignored file where the item adds a folder, changing nothing", async () => {
		const fx = fixture();
		fx.commit(fx.project, { ".gitignore": "build\n" }, "ignore build");
		const item = fx.item("item-1", { ...ITEM_A, ".gitignore": "", "build/out.txt": "out\n" });
		fx.write("build", "the user's own build file\n");
		const before = userState(fx, ["a.txt", "build"]);
		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(outcome.status).toBe("blocked");
		expect((outcome as { detail: string }).detail).toContain("build/out.txt");
		expect(userState(fx, ["a.txt", "build"])).toEqual(before);
	});

	it.each([
		["untracked", false],
		["ignored", true],
	])("blocks when the user has an %s folder where the item adds a file, changing nothing", async (_, ignored) => {
		const fx = fixture();
		if (ignored) fx.commit(fx.project, { ".gitignore": "new.txt/\n" }, "ignore new.txt/ folders");
		const item = fx.item("item-1", { ...ITEM_A, "new.txt": "item's new.txt\n" });
		mkdirSync(join(fx.project, "new.txt"));
		fx.write("new.txt/mine", "user's file in a folder\n");
		const before = userState(fx, ["a.txt", "new.txt/mine"]);
		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(outcome.status).toBe("blocked");
		expect((outcome as { detail: string }).detail).toMatch(/uncommitted changes in the way of item-1.*new\.txt/);
		expect(userState(fx, ["a.txt", "new.txt/mine"])).toEqual(before);
		expectNoScratch(fx);
	});

	it("blocks on a detached HEAD, saying so", async () => {
		const fx = fixture();
		const item = fx.item("item-1", ITEM_A);
		fx.git(fx.project, "checkout", "-q", "--detach", "HEAD");
		const head = fx.git(fx.project, "rev-parse", "HEAD").trim();
		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(outcome.status).toBe("blocked");
		expect((outcome as { detail: string }).detail).toMatch(/HEAD is detached/);
		expect(fx.git(fx.project, "rev-parse", "HEAD").trim()).toBe(head);
		expect(fx.read("a.txt")).toBe(BASE["a.txt"]);
		expectNoScratch(fx);
	});

	it("reports an item already merged as merged without doing anything (a resumed run calls it again)", async () => {
		const fx = fixture();
		const item = fx.item("item-1", ITEM_A);
		fx.commit(fx.project, { "b.txt": "b1 by user\n" }, "user work");
		const first = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(first).toMatchObject({ status: "merged", fastForward: false });
		const head = fx.git(fx.project, "rev-parse", "HEAD").trim();
		const reflog = fx.git(fx.project, "reflog", "main");
		let checked = false;
		const again = await mergeBack(
			fx.project,
			{ branch: "item-1", commit: item.commit },
			{
				scratchRoot: fx.scratchRoot,
				check: async () => {
					checked = true;
					return { passed: true, output: "" };
				},
			},
		);
		expect(again).toEqual({ status: "merged", commit: head, fastForward: false });
		expect(fx.git(fx.project, "rev-parse", "HEAD").trim()).toBe(head);
		expect(fx.git(fx.project, "reflog", "main")).toBe(reflog);
		expect(checked).toBe(false);
		expectNoScratch(fx);
	});

	it("merges without a configured identity, naming pi-loop-factory as the merge's author", async () => {
		const fx = fixture({ identity: false });
		expect(fx.git(fx.project, "config", "--default", "", "user.email").trim()).toBe("");
		const item = fx.item("item-1", ITEM_A);
		fx.commit(fx.project, { "b.txt": "b1 by user\n" }, "user work");
		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(outcome).toMatchObject({ status: "merged", fastForward: false });
		expect(fx.git(fx.project, "log", "-1", "--format=%an <%ae>").trim()).toBe(
			"pi-loop-factory <pi-loop-factory@localhost>",
		);
		// Only that merge: the repository's config is as it was.
		expect(fx.git(fx.project, "config", "--default", "", "user.email").trim()).toBe("");
		expectNoScratch(fx);
	});

	it("redoes the merge once when the user's branch moved during the check", async () => {
		const fx = fixture();
		const item = fx.item("item-1", ITEM_A);
		let checks = 0;
		const outcome = await mergeBack(
			fx.project,
			{ branch: "item-1", commit: item.commit },
			{
				scratchRoot: fx.scratchRoot,
				check: async () => {
					if (++checks === 1) fx.commit(fx.project, { "b.txt": "b1 committed during the check\n" }, "user");
					return { passed: true, output: "" };
				},
			},
		);
		expect(checks).toBe(2);
		expect(outcome).toMatchObject({ status: "merged", fastForward: false });
		expect(fx.read("a.txt")).toBe(ITEM_A["a.txt"]);
		expect(fx.read("b.txt")).toBe("b1 committed during the check\n");
		expectNoScratch(fx);
	});

	it("blocks when the user starts changing the item's file while the check runs", async () => {
		const fx = fixture();
		const item = fx.item("item-1", ITEM_A);
		const outcome = await mergeBack(
			fx.project,
			{ branch: "item-1", commit: item.commit },
			{
				scratchRoot: fx.scratchRoot,
				check: async () => {
					fx.write("a.txt", "a1 typed during the check\n");
					return { passed: true, output: "" };
				},
			},
		);
		expect(outcome.status).toBe("blocked");
		expect((outcome as { detail: string }).detail).toContain("a.txt");
		expect(fx.read("a.txt")).toBe("a1 typed during the check\n");
		expect(await isMerged(fx.project, item.commit)).toBe(false);
		expectNoScratch(fx);
	});

	it("is not swayed by the user's merge.ff=false and merge.autoStash config", async () => {
		const fx = fixture();
		fx.git(fx.project, "config", "merge.ff", "false");
		fx.git(fx.project, "config", "merge.autoStash", "true");
		const item = fx.item("item-1", ITEM_A);
		// An autostash would re-apply this as " M c.txt": the staged version lost.
		fx.write("c.txt", "c1 staged\n");
		fx.git(fx.project, "add", "c.txt");
		fx.write("c.txt", "c1 staged, then changed again\n");
		const before = userState(fx, ["c.txt"]);
		const outcome = await mergeBack(fx.project, { branch: "item-1", commit: item.commit }, fx);
		expect(outcome).toEqual({ status: "merged", commit: item.commit, fastForward: true });
		const after = userState(fx, ["c.txt"]);
		expect(after.status).toBe("MM c.txt\n");
		expect(after.staged).toBe(before.staged);
		expect(after.files).toEqual(before.files);
		expect(fx.git(fx.project, "stash", "list")).toBe("");
		expect(fx.git(fx.project, "reflog", "-1", "--format=%gs", "main").trim()).toBe(
			`merge ${item.commit}: Fast-forward`,
		);
		expectNoScratch(fx);
	});

	it("blocks with the git command and git's words when git fails", async () => {
		const fx = fixture();
		const unknown = await mergeBack(fx.project, { branch: "gone", commit: "0123456789abcdef" }, fx);
		expect(unknown).toMatchObject({ status: "blocked" });
		expect((unknown as { detail: string }).detail).toContain("0123456789abcdef");
		const notRepo = await mergeBack(fx.root, { branch: "b", commit: "HEAD" }, fx);
		expect(notRepo.status).toBe("blocked");
		expect((notRepo as { detail: string }).detail).toMatch(
			/git rev-parse --show-toplevel HEAD failed in .*: fatal: not a git/,
		);
		expectNoScratch(fx);
	});
});

describe("mergeBackAll", () => {
	/** How many times the user's branch moved (its reflog, newest first). */
	const moves = (fx: Fixture) => fx.git(fx.project, "reflog", "--format=%H", "main").trim().split("\n").length;

	it("merges a batch without a check in one move of the branch, each item onto the ones before", async () => {
		const fx = fixture();
		const one = fx.item("item-1", ITEM_A);
		const two = fx.item("item-2", { "new.txt": "new\n" });
		const three = fx.item("item-3", { "a.txt": "a1 by item three\na2\na3\n" }); // conflicts with item-1
		const four = fx.item("item-4", { "d.txt": "d\n" });
		const before = moves(fx);
		const items = [one, two, three, four].map((item, i) => ({ branch: `item-${i + 1}`, commit: item.commit }));
		const outcomes = await mergeBackAll(fx.project, items, fx);
		const head = fx.git(fx.project, "rev-parse", "HEAD").trim();
		expect(outcomes.map((o) => o.status)).toEqual(["merged", "merged", "conflict", "merged"]);
		expect(outcomes[0]).toEqual({ status: "merged", commit: head, fastForward: false });
		expect(outcomes[2]).toMatchObject({ files: ["a.txt"] });
		expect(moves(fx)).toBe(before + 1);
		for (const item of [one, two, four]) expect(await isMerged(fx.project, item.commit)).toBe(true);
		expect(await isMerged(fx.project, three.commit)).toBe(false);
		expect(fx.git(fx.project, "log", "--format=%s", "-2").trim().split("\n")).toEqual([
			"Merge branch 'item-4' into main",
			"Merge branch 'item-2' into main",
		]);
		expect(fx.read("a.txt")).toBe(ITEM_A["a.txt"]);
		expect(fx.read("new.txt")).toBe("new\n");
		expect(fx.git(fx.project, "status", "--porcelain")).toBe("");
		expectNoScratch(fx);
		// Again (a resumed run): nothing moves, the merged ones say merged, the conflict is still one.
		const again = await mergeBackAll(fx.project, items, fx);
		expect(again.map((o) => o.status)).toEqual(["merged", "merged", "conflict", "merged"]);
		expect(fx.git(fx.project, "rev-parse", "HEAD").trim()).toBe(head);
	});

	it("in a batch, the user's changes block only the items whose files they are in", async () => {
		const fx = fixture();
		const one = fx.item("item-1", { "b.txt": "b1 by item\n" });
		const two = fx.item("item-2", ITEM_A);
		fx.write("b.txt", "b1 by the user, uncommitted\n");
		fx.write("untracked.txt", "mine\n");
		const paths = ["b.txt", "untracked.txt"];
		const before = userState(fx, paths);
		const items = [
			{ branch: "item-1", commit: one.commit },
			{ branch: "item-2", commit: two.commit },
		];
		const outcomes = await mergeBackAll(fx.project, items, fx);
		expect(outcomes.map((o) => o.status)).toEqual(["blocked", "merged"]);
		expect((outcomes[0] as { detail: string }).detail).toContain("b.txt");
		expect(fx.read("a.txt")).toBe(ITEM_A["a.txt"]);
		const after = userState(fx, paths);
		expect(after.files).toEqual(before.files);
		expect(after.status).toBe(before.status);
		expect(after.head).toBe(two.commit);
	});

	it("with a check, or with an unknown commit, merges one by one, saying per item what happened", async () => {
		const fx = fixture();
		const one = fx.item("item-1", ITEM_A);
		const two = fx.item("item-2", { "new.txt": "new\n" });
		const checked: string[] = [];
		const check = async (cwd: string) => {
			checked.push(readFileSync(join(cwd, "a.txt"), "utf8"));
			return { passed: existsSync(join(cwd, "new.txt")) === false, output: "new.txt must not exist" };
		};
		const items = [
			{ branch: "item-1", commit: one.commit },
			{ branch: "gone", commit: "0123456789abcdef" },
			{ branch: "item-2", commit: two.commit },
		];
		const outcomes = await mergeBackAll(fx.project, items, { ...fx, check });
		expect(outcomes.map((o) => o.status)).toEqual(["merged", "blocked", "check-failed"]);
		expect(checked).toEqual([ITEM_A["a.txt"], ITEM_A["a.txt"]]);
		const unchecked = await mergeBackAll(fx.project, items.slice(1), fx);
		expect(unchecked.map((o) => o.status)).toEqual(["blocked", "merged"]);
		expect((unchecked[0] as { detail: string }).detail).toContain("0123456789abcdef");
		expectNoScratch(fx);
	});
});

describe("isMerged", () => {
	it("tells whether a commit is in HEAD or a given target", async () => {
		const fx = fixture();
		const item = fx.item("item-1", ITEM_A);
		expect(await isMerged(fx.project, item.commit)).toBe(false);
		expect(await isMerged(fx.project, item.commit, "item-1")).toBe(true);
		expect(await isMerged(fx.project, "main", "item-1")).toBe(true);
	});
});

describe("parseStatus", () => {
	it("lists every path of `git status --porcelain -z`, both of a rename", () => {
		expect(parseStatus(" M a.txt\0R  new name.txt\0old.txt\0?? dir/u.txt\0")).toEqual([
			"a.txt",
			"new name.txt",
			"old.txt",
			"dir/u.txt",
		]);
	});
});
