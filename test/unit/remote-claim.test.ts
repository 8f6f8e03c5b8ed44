/** Unit tests: claiming a branch on a git remote create-only, and pushing claimed branches, with real git. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
	ClaimInputError,
	type ClaimOutcome,
	claimBranch,
	parsePushPorcelain,
	pushBranch,
	releaseClaim,
	remoteBranchExists,
} from "../../extensions/core/remote-claim.ts";

// Only this file's worker: git reads no system or user config and takes no identity from the environment, so each
// clone has exactly the identity it configures (clone b has none: claims there need identityArgs).
beforeAll(() => {
	const home = mkdtempSync(join(tmpdir(), "pi-claim-home-"));
	const globalConfig = join(home, "gitconfig");
	writeFileSync(globalConfig, "");
	Object.assign(process.env, { GIT_CONFIG_GLOBAL: globalConfig, GIT_CONFIG_NOSYSTEM: "1", HOME: home });
	const identityVariables = ["GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"];
	for (const name of [...identityVariables, "EMAIL"]) delete process.env[name];
});

const SEED_IDENTITY = {
	GIT_AUTHOR_NAME: "Seed",
	GIT_AUTHOR_EMAIL: "seed@test.invalid",
	GIT_COMMITTER_NAME: "Seed",
	GIT_COMMITTER_EMAIL: "seed@test.invalid",
};

interface Remotes {
	root: string;
	/** The bare repository every clone calls `origin`. */
	origin: string;
	/** Where the base branch `main` gets its commits from. */
	seed: string;
	/** Two workers' clones: `a` with an identity of its own, `b` without one. */
	a: string;
	b: string;
	git(cwd: string, ...args: string[]): string;
	/** Commits `files` in `cwd` and pushes the commit to origin's main; its id. */
	advanceMain(files: Record<string, string>): string;
	/** The commit of origin's `refs/heads/<branch>`, undefined when absent. */
	originTip(branch: string): string | undefined;
	originRefs(): string;
}

function remotes(): Remotes {
	const root = mkdtempSync(join(tmpdir(), "pi-remote-claim-"));
	const origin = join(root, "origin.git");
	const [seed, a, b] = ["seed", "a", "b"].map((name) => join(root, name)) as [string, string, string];
	const git = (cwd: string, ...args: string[]) =>
		execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...SEED_IDENTITY } });
	git(root, "init", "-q", "--bare", "-b", "main", origin);
	git(root, "init", "-q", "-b", "main", seed);
	git(seed, "remote", "add", "origin", origin);
	const advanceMain = (files: Record<string, string>) => {
		for (const [path, text] of Object.entries(files)) writeFileSync(join(seed, path), text);
		git(seed, "add", "-A");
		git(seed, "commit", "-qm", `seed ${Object.keys(files).join(" ")}`);
		git(seed, "push", "-q", "origin", "HEAD:refs/heads/main");
		return git(seed, "rev-parse", "HEAD").trim();
	};
	advanceMain({ "a.txt": "a1\n", "b.txt": "b1\n" });
	for (const clone of [a, b]) git(root, "clone", "-q", origin, clone);
	git(a, "config", "user.name", "Worker A");
	git(a, "config", "user.email", "a@test.invalid");
	// Without this, git might guess an identity from the user and host names.
	git(b, "config", "user.useConfigOnly", "true");
	const originTip = (branch: string) => {
		const out = git(origin, "for-each-ref", "--format=%(objectname)", `refs/heads/${branch}`).trim();
		return out === "" ? undefined : out;
	};
	const originRefs = () => git(origin, "for-each-ref");
	return { root, origin, seed, a, b, git, advanceMain, originTip, originRefs };
}

/** Everything of a clone the user could see or lose: HEAD, index bytes, refs, config, status and files' bytes. */
function cloneState(fx: Remotes, clone: string, paths: string[]) {
	const gitFile = (name: string) => readFileSync(join(clone, ".git", name)).toString("base64");
	return {
		headFile: gitFile("HEAD"),
		index: gitFile("index"),
		config: gitFile("config"),
		head: fx.git(clone, "rev-parse", "HEAD").trim(),
		refs: fx.git(clone, "for-each-ref"),
		status: fx.git(clone, "--no-optional-locks", "status", "--porcelain", "-z", "--untracked-files=all"),
		staged: fx.git(clone, "--no-optional-locks", "diff", "--cached"),
		files: Object.fromEntries(
			paths.map((path) => [path, existsSync(join(clone, path)) ? readFileSync(join(clone, path), "hex") : null]),
		),
	};
}

function claimOf(outcome: ClaimOutcome): { commit: string; base: string } {
	if (outcome.status !== "claimed") throw new Error(`expected a claim, got ${JSON.stringify(outcome)}`);
	return outcome;
}

describe("claimBranch", () => {
	it("creates the branch on the remote with a claim commit, leaving the clone's work exactly as it was", async () => {
		const fx = remotes();
		// The clone has local work of every kind, and its view of origin/main is behind the remote.
		writeFileSync(join(fx.b, "a.txt"), "a1 edited, not staged\n");
		writeFileSync(join(fx.b, "b.txt"), "b1 staged\n");
		fx.git(fx.b, "add", "b.txt");
		writeFileSync(join(fx.b, "b.txt"), "b1 staged, then edited again\n");
		writeFileSync(join(fx.b, "untracked.txt"), "mine\n");
		const cloneTip = fx.git(fx.b, "rev-parse", "HEAD").trim();
		const baseTip = fx.advanceMain({ "c.txt": "c1\n" });
		fx.git(fx.b, "status", "--porcelain"); // lets git refresh the index now, not between the snapshots
		const paths = ["a.txt", "b.txt", "c.txt", "untracked.txt"];
		const before = cloneState(fx, fx.b, paths);

		expect(await remoteBranchExists(fx.b, "origin", "loop/issue-12")).toBe(false);
		const outcome = await claimBranch(fx.b, {
			branch: "loop/issue-12",
			base: "main",
			runId: "run-b-1",
			subject: "issue #12",
		});

		const { commit, base } = claimOf(outcome);
		expect(base).toBe(baseTip);
		expect(fx.originTip("loop/issue-12")).toBe(commit);
		expect(await remoteBranchExists(fx.a, "origin", "loop/issue-12")).toBe(true);
		expect(fx.git(fx.origin, "rev-list", "--parents", "-n1", commit).trim()).toBe(`${commit} ${baseTip}`);
		expect(fx.git(fx.origin, "rev-parse", `${commit}^{tree}`)).toBe(
			fx.git(fx.origin, "rev-parse", `${baseTip}^{tree}`),
		);
		expect(fx.git(fx.origin, "log", "-1", "--format=%B", commit)).toBe(
			"loop: claim issue #12\n\nLoop-Run: run-b-1\n\n",
		);
		// Clone b has no identity: the claim got the fallback one, without writing it into b's config.
		expect(fx.git(fx.origin, "log", "-1", "--format=%an <%ae>", commit).trim()).toBe(
			"pi-loop-factory <pi-loop-factory@localhost>",
		);
		// The push records the new branch as origin/loop/issue-12, like any push; nothing else of the clone changed.
		const after = cloneState(fx, fx.b, paths);
		const tracking = `${commit} commit\trefs/remotes/origin/loop/issue-12\n`;
		expect(after.refs).toBe(before.refs.replace(/(?=\S+ commit\trefs\/remotes\/origin\/main\n)/, tracking));
		expect({ ...after, refs: before.refs }).toEqual(before);
		expect(before.head).toBe(cloneTip);
		expect(fx.originTip("main")).toBe(baseTip);
	});

	it("reports a branch claimed from elsewhere as taken, with the run that holds it, and leaves it alone", async () => {
		const fx = remotes();
		const first = claimOf(
			await claimBranch(fx.a, { branch: "loop/issue-7", base: "main", runId: "run-a", subject: "issue #7" }),
		);
		fx.advanceMain({ "c.txt": "c1\n" }); // the second worker sees a newer base than the claim was made on
		const refsBefore = fx.originRefs();

		const second = await claimBranch(fx.b, { branch: "loop/issue-7", base: "main", runId: "run-b", subject: "#7" });

		expect(second).toMatchObject({ status: "taken", by: "run-a" });
		expect(fx.originTip("loop/issue-7")).toBe(first.commit);
		expect(fx.originRefs()).toBe(refsBefore);
	});

	it("gives each branch to exactly one of two workers claiming it at the same time", async () => {
		const fx = remotes();
		const rounds = 10;
		for (let round = 0; round < rounds; round++) {
			const branch = `loop/race-${round}`;
			const claim = (repo: string, runId: string) =>
				claimBranch(repo, { branch, base: "main", runId, subject: `race ${round}` });
			const outcomes = await Promise.all([claim(fx.a, `run-a-${round}`), claim(fx.b, `run-b-${round}`)]);

			const statuses = outcomes.map((outcome) => outcome.status).sort();
			expect(statuses, JSON.stringify(outcomes)).toEqual(["claimed", "taken"]);
			const winner = outcomes.findIndex((outcome) => outcome.status === "claimed");
			const loser = outcomes[1 - winner] as Extract<ClaimOutcome, { status: "taken" }>;
			expect(loser.by).toBe(`run-${winner === 0 ? "a" : "b"}-${round}`);
			expect(fx.originTip(branch)).toBe(claimOf(outcomes[winner] as ClaimOutcome).commit);
			// "[rejected] (stale info)": the lease saw the winner's branch; "[remote rejected]": both passed it and the
			// server's atomic ref update refused the loser.
			expect(loser.detail).toMatch(/^loop\/race-\d+: \[(remote )?rejected\]/);
		}
	}, 60_000);

	it("reports a missing or unreachable remote as an error naming the command", async () => {
		const fx = remotes();
		const options = { branch: "loop/issue-1", base: "main", runId: "run-a", subject: "issue #1" };

		const named = await claimBranch(fx.a, { ...options, remote: "nosuch" });
		expect(named.status).toBe("error");
		expect((named as { detail: string }).detail).toMatch(/^git ls-remote --heads nosuch refs\/heads\/main failed/);
		expect((named as { detail: string }).detail).toContain("'nosuch' does not appear to be a git repository");

		const missing = join(fx.root, "missing.git");
		const path = await claimBranch(fx.a, { ...options, remote: missing });
		expect(path).toMatchObject({ status: "error" });
		expect((path as { detail: string }).detail).toContain(`git ls-remote --heads ${missing}`);

		// Fetching works, pushing does not: the push's own failure is reported, not taken for a lost race.
		fx.git(fx.a, "config", "remote.origin.pushurl", missing);
		const push = await claimBranch(fx.a, options);
		expect(push.status).toBe("error");
		expect((push as { detail: string }).detail).toMatch(/^git push --porcelain .* origin [0-9a-f]{40}:refs\/heads/);
		expect(fx.originTip("loop/issue-1")).toBeUndefined();
	});

	it("reports a push the remote declines (a hook) as an error, not as taken", async () => {
		const fx = remotes();
		writeFileSync(join(fx.origin, "hooks", "pre-receive"), "#!/bin/sh\necho no pushes today >&2\nexit 1\n", {
			mode: 0o755,
		});
		const outcome = await claimBranch(fx.a, { branch: "loop/x", base: "main", runId: "run-a", subject: "x" });
		expect(outcome.status).toBe("error");
		expect((outcome as { detail: string }).detail).toContain("pre-receive hook declined");
		expect((outcome as { detail: string }).detail).toContain("no pushes today");
		expect(fx.originTip("loop/x")).toBeUndefined();
	});

	it("reports a base branch the remote does not have", async () => {
		const fx = remotes();
		const outcome = await claimBranch(fx.a, { branch: "loop/x", base: "develop", runId: "run-a", subject: "x" });
		expect(outcome).toEqual({ status: "error", detail: "no branch develop on origin" });
	});
});

describe("pushBranch", () => {
	it("fast-forwards a claimed branch, rejects a push that is not a fast-forward, and forces nothing", async () => {
		const fx = remotes();
		const claim = claimOf(
			await claimBranch(fx.a, { branch: "loop/issue-3", base: "main", runId: "run-a", subject: "issue #3" }),
		);
		// The worker's work: a commit on the claim, in a worktree of its own.
		const work = join(fx.root, "work-a");
		fx.git(fx.a, "worktree", "add", "-q", "-b", "work", work, claim.commit);
		writeFileSync(join(work, "a.txt"), "a1 fixed\n");
		fx.git(work, "commit", "-qam", "fix issue #3\n\nLoop-Run: not-a-claim"); // a trailer, but no claim commit
		const done = fx.git(work, "rev-parse", "HEAD").trim();
		const protectedBranches = ["main"];

		const pushed = await pushBranch(fx.a, { branch: "loop/issue-3", commit: "work", protectedBranches });
		expect(pushed).toEqual({ status: "pushed", commit: done });
		expect(fx.originTip("loop/issue-3")).toBe(done);

		// A sibling of the pushed commit: pushing it would drop `done`.
		fx.git(work, "checkout", "-q", "-b", "other", claim.commit);
		writeFileSync(join(work, "b.txt"), "b1 other\n");
		fx.git(work, "commit", "-qam", "another fix");
		const rejected = await pushBranch(fx.a, { branch: "loop/issue-3", commit: "other", protectedBranches });
		expect(rejected.status).toBe("rejected");
		expect((rejected as { detail: string }).detail).toMatch(/loop\/issue-3: \[rejected\] \(non-fast-forward\)/);
		expect(fx.originTip("loop/issue-3")).toBe(done);

		// The claim is still found under the work pushed on top of it.
		const late = await claimBranch(fx.b, { branch: "loop/issue-3", base: "main", runId: "run-b", subject: "#3" });
		expect(late).toMatchObject({ status: "taken", by: "run-a" });
	});

	it("refuses a protected branch without running git", async () => {
		const fx = remotes();
		const refsBefore = fx.originRefs();
		const tip = fx.git(fx.a, "rev-parse", "HEAD").trim();
		// No git runs: in a folder that does not exist any git call would fail with another message.
		const nowhere = join(fx.root, "no-such-dir");
		const main = await pushBranch(nowhere, { branch: "main", commit: tip, protectedBranches: ["main"] });
		expect(main).toEqual({ status: "error", detail: "refusing to push to the protected branch main" });
		const named = { branch: "loop/base", commit: tip, protectedBranches: ["refs/heads/loop/base"] };
		expect(await pushBranch(nowhere, named)).toEqual({
			status: "error",
			detail: "refusing to push to the protected branch loop/base",
		});
		expect(await pushBranch(fx.a, named)).toMatchObject({ status: "error" });
		expect(fx.originRefs()).toBe(refsBefore);
	});
});

describe("releaseClaim", () => {
	it("deletes the branch while it is still the bare claim; once work is on it, the branch stays", async () => {
		const fx = remotes();
		const claim = claimOf(
			await claimBranch(fx.a, { branch: "loop/issue-5", base: "main", runId: "run-a", subject: "issue #5" }),
		);
		expect(await releaseClaim(fx.a, { branch: "loop/issue-5", claim: claim.commit })).toMatchObject({
			status: "pushed",
		});
		expect(fx.originTip("loop/issue-5")).toBeUndefined();
		// Claimable again.
		const again = claimOf(
			await claimBranch(fx.b, { branch: "loop/issue-5", base: "main", runId: "run-b", subject: "issue #5" }),
		);
		const work = join(fx.root, "work-b");
		fx.git(fx.b, "worktree", "add", "-q", "--detach", work, again.commit);
		writeFileSync(join(work, "a.txt"), "a1 fixed\n");
		fx.git(work, "-c", "user.name=B", "-c", "user.email=b@test.invalid", "commit", "-qam", "work");
		const done = fx.git(work, "rev-parse", "HEAD").trim();
		await pushBranch(fx.b, { branch: "loop/issue-5", commit: done, protectedBranches: ["main"] });
		const kept = await releaseClaim(fx.b, { branch: "loop/issue-5", claim: again.commit });
		expect(kept.status).toBe("rejected");
		expect(fx.originTip("loop/issue-5")).toBe(done);
		expect(await releaseClaim(fx.b, { branch: "main", claim: again.commit })).toMatchObject({ status: "error" });
		expect(fx.originTip("main")).toBeDefined();
	});
});

describe("hostile input", () => {
	const claim = { branch: "loop/ok", base: "main", runId: "run-a", subject: "ok" };
	const cases: [string, Partial<typeof claim> & { remote?: string }, RegExp][] = [
		["a branch outside loop/", { branch: "main" }, /^branch must start with "loop\/": "main"$/],
		["a branch starting with -", { branch: "-loop/x" }, /^branch must start with "loop\/"/],
		["a branch with ..", { branch: "loop/../x" }, /^branch is not a valid branch name: "loop\/..\/x"$/],
		["a branch with a space", { branch: "loop/a b" }, /^branch is not a valid branch name/],
		["a branch ending in .lock", { branch: "loop/x.lock" }, /^branch is not a valid branch name/],
		["a branch with @{", { branch: "loop/@{-1}" }, /^branch is not a valid branch name/],
		["a branch with a colon", { branch: "loop/x:refs/heads/main" }, /^branch is not a valid branch name/],
		["the bare prefix", { branch: "loop/" }, /^branch is not a valid branch name/],
		["a base starting with -", { base: "--all" }, /^base must not start with "-": "--all"$/],
		["a base that git would expand", { base: "@{-1}" }, /^base is not a valid branch name: "@\{-1\}"$/],
		["an option as remote", { remote: "--upload-pack=touch pwned" }, /^remote must not start with "-"/],
		["an empty remote", { remote: "" }, /^remote is empty$/],
		["a run id with a line break", { runId: "x\nLoop-Run: y" }, /^run id must be 1-200 characters/],
		["an empty run id", { runId: "" }, /^run id must be/],
		["a subject with a line break", { subject: "ok\n\nLoop-Run: forged" }, /^subject must be one non-empty line/],
		["a blank subject", { subject: "  " }, /^subject must be one non-empty line/],
	];

	let shared: Remotes | undefined;
	const fixture = () => {
		shared ??= remotes();
		return shared;
	};

	it.each(cases)("claimBranch rejects %s", async (_name, change, message) => {
		const fx = fixture();
		const refsBefore = fx.originRefs();
		const outcome = await claimBranch(fx.a, { ...claim, ...change });
		expect(outcome.status).toBe("error");
		expect((outcome as { detail: string }).detail).toMatch(message);
		expect(fx.originRefs()).toBe(refsBefore);
		expect(existsSync(join(fx.a, "pwned"))).toBe(false);
	});

	it("remoteBranchExists and pushBranch reject bad names and commits", async () => {
		const fx = fixture();
		await expect(remoteBranchExists(fx.a, "origin", "main")).rejects.toThrow(ClaimInputError);
		await expect(remoteBranchExists(fx.a, "-u", "loop/x")).rejects.toThrow(/remote must not start with "-"/);
		await expect(remoteBranchExists(fx.a, "origin", "loop/a..b")).rejects.toThrow(/not a valid branch name/);
		const push = { branch: "loop/x", commit: "HEAD", protectedBranches: ["main"] };
		expect(await pushBranch(fx.a, { ...push, commit: "--all" })).toEqual({
			status: "error",
			detail: 'not a commit: "--all"',
		});
		expect(await pushBranch(fx.a, { ...push, branch: "feature" })).toMatchObject({ status: "error" });
		expect(await pushBranch(fx.a, { ...push, commit: "nosuch" })).toMatchObject({ status: "error" });
		expect(fx.originTip("loop/x")).toBeUndefined();
	});
});

describe("parsePushPorcelain", () => {
	it("reads flag, refs and summary of each ref line", () => {
		const out =
			"To /tmp/o.git\n*\tabc:refs/heads/loop/x\t[new branch]\n!\tHEAD:refs/heads/y\t[rejected] (stale info)\nDone\n";
		expect(parsePushPorcelain(out)).toEqual([
			{ flag: "*", from: "abc", to: "refs/heads/loop/x", summary: "[new branch]" },
			{ flag: "!", from: "HEAD", to: "refs/heads/y", summary: "[rejected] (stale info)" },
		]);
	});
});
