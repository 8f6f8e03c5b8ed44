/** Unit tests: the gh client against the gh stand-in (test/support/gh-standin.mjs) in temp dirs; issue branches. */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { GhError, type GhOptions, ghErrorKind, gitHub, issueBranch } from "../../extensions/core/github.ts";
import { installGhStandin, readGhStandinState, type StandinState } from "../support/gh-standin-install.mjs";

const REPO = "acme/widgets";
const ISSUE_FIELDS = "number,title,body,labels,url";
const PR_FIELDS = "number,url,state,headRefName";
const ISSUES = [
	{ number: 1, title: "Add a flag", body: "Please.", labels: ["loop", "cli"], state: "OPEN" },
	{ number: 2, title: "Closed one", body: "", labels: ["loop"], state: "CLOSED" },
	{ number: 3, title: "No label", body: "x", labels: ["bug"], state: "OPEN" },
	{ number: 5, title: "Fix the docs", body: "Typos.", labels: ["Loop"], state: "OPEN" },
];
const PRS = [
	{ number: 4, url: `https://github.com/${REPO}/pull/4`, state: "MERGED", headRefName: "loop/issue-1-add-a-flag" },
];

/** State files whose stand-in must have seen only contract calls (checked after each test). */
const used: string[] = [];

afterEach(() => {
	for (const path of used.splice(0)) expect(readGhStandinState(path).rejected).toEqual([]);
});

function standin(env: NodeJS.ProcessEnv = {}, options: GhOptions = {}) {
	const root = mkdtempSync(join(tmpdir(), "pi-gh-"));
	const statePath = join(root, "state.json");
	const initial = { repo: { nameWithOwner: REPO, defaultBranch: "trunk" }, issues: ISSUES, prs: PRS };
	const standinEnv = installGhStandin(join(root, "bin"), statePath, structuredClone(initial));
	used.push(statePath);
	const project = join(root, "project");
	mkdirSync(project);
	return {
		gh: gitHub({ cwd: project, env: { ...standinEnv, ...env }, ...options }),
		project,
		state: (): StandinState => readGhStandinState(statePath),
		/** Runs the stand-in directly, as a caller outside the contract would. */
		run: (args: string[]) =>
			promisify(execFile)("gh", args, { env: { ...process.env, ...standinEnv } }).then(
				() => 0,
				(error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
			),
	};
}

async function ghError(promise: Promise<unknown>): Promise<GhError> {
	const error = await promise.then(
		() => undefined,
		(caught: unknown) => caught,
	);
	expect(error).toBeInstanceOf(GhError);
	return error as GhError;
}

/** A one-off gh: a shell script (for what the stand-in does not do: garbage, hanging, leaking a token). */
function scriptedGh(script: string, options: GhOptions = {}) {
	const gh = join(mkdtempSync(join(tmpdir(), "pi-gh-script-")), "gh");
	writeFileSync(gh, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
	return gitHub({ gh, ...options });
}

describe("gh client against the stand-in", () => {
	it("checks the login, and says 'auth' with gh's words when logged out", async () => {
		await expect(standin().gh.checkAuth()).resolves.toBeUndefined();
		const error = await ghError(standin({ GH_STANDIN_LOGGED_OUT: "1" }).gh.checkAuth());
		expect(error.kind).toBe("auth");
		expect(error.message).toBe(
			"gh auth status failed (exit 1): You are not logged into any GitHub hosts. To log in, run: gh auth login",
		);
		const other = await ghError(standin({ GH_STANDIN_LOGGED_OUT: "1" }).gh.listIssues(REPO, "loop", 5));
		expect(other).toMatchObject({ kind: "auth", exitCode: 4 });
	});

	it("views the repository, named or the cwd's; another one is not found", async () => {
		const { gh, state } = standin();
		expect(await gh.viewRepo()).toEqual({ nameWithOwner: REPO, defaultBranch: "trunk" });
		expect(await gh.viewRepo(REPO)).toEqual({ nameWithOwner: REPO, defaultBranch: "trunk" });
		const error = await ghError(gh.viewRepo("acme/other"));
		expect(error.kind).toBe("not-found");
		expect(error.command).toBe("gh repo view --repo acme/other --json nameWithOwner,defaultBranchRef");
		expect(error.stderr).toContain("Could not resolve to a Repository with the name 'acme/other'");
		expect(state().calls.slice(0, 2)).toEqual([
			["repo", "view", "--json", "nameWithOwner,defaultBranchRef"],
			["repo", "view", "--repo", REPO, "--json", "nameWithOwner,defaultBranchRef"],
		]);
	});

	it("lists open issues with the label (names, newest first, at most the limit)", async () => {
		const { gh, state } = standin();
		const issues = await gh.listIssues(REPO, "loop", 10);
		expect(issues).toEqual([
			{
				number: 5,
				title: "Fix the docs",
				body: "Typos.",
				labels: ["Loop"],
				url: `https://github.com/${REPO}/issues/5`,
			},
			{
				number: 1,
				title: "Add a flag",
				body: "Please.",
				labels: ["loop", "cli"],
				url: `https://github.com/${REPO}/issues/1`,
			},
		]);
		expect((await gh.listIssues(REPO, "loop", 1)).map((issue) => issue.number)).toEqual([5]);
		expect(await gh.listIssues(REPO, "nothing-has-this", 10)).toEqual([]);
		expect(state().calls[0]).toEqual(
			["issue", "list", "--repo", REPO, "--label", "loop", "--state", "open"].concat([
				"--json",
				"number,title,body,labels,url",
				"--limit",
				"10",
			]),
		);
	});

	it("views an issue with its state; a missing one is not found", async () => {
		const { gh } = standin();
		expect(await gh.viewIssue(REPO, 2)).toEqual({
			number: 2,
			title: "Closed one",
			body: "",
			labels: ["loop"],
			url: `https://github.com/${REPO}/issues/2`,
			state: "CLOSED",
		});
		const error = await ghError(gh.viewIssue(REPO, 99));
		expect(error.kind).toBe("not-found");
		expect(error.message).toContain("gh issue view 99 --repo acme/widgets --json number,title,body,labels,url,state");
	});

	it("adds and removes labels, either or both", async () => {
		const { gh, state } = standin();
		await gh.editIssueLabels(REPO, 1, { add: "loop:working", remove: "loop" });
		expect(state().issues.find((issue) => issue.number === 1)?.labels).toEqual(["cli", "loop:working"]);
		await gh.editIssueLabels(REPO, 1, { remove: "cli" });
		await gh.editIssueLabels(REPO, 1, { add: "loop:done" });
		expect(state().issues.find((issue) => issue.number === 1)?.labels).toEqual(["loop:working", "loop:done"]);
		await expect(gh.editIssueLabels(REPO, 1, {})).rejects.toThrow("adds or removes a label");
		expect(state().calls.slice(1)).toEqual([
			["issue", "edit", "1", "--repo", REPO, "--remove-label", "cli"],
			["issue", "edit", "1", "--repo", REPO, "--add-label", "loop:done"],
		]);
	});

	it("comments through a temp body file outside the project that is gone afterwards", async () => {
		const { gh, state, project } = standin();
		const body = "Done: see PR.\n\n```sh\necho \"$HOME\" 'quoted' `tick`\n```\n";
		await gh.commentOnIssue(REPO, 3, body);
		expect(state().issues.find((issue) => issue.number === 3)?.comments).toEqual([{ body }]);
		const call = state().calls[0];
		expect(call.slice(0, 6)).toEqual(["issue", "comment", "3", "--repo", REPO, "--body-file"]);
		expect(call).toHaveLength(7);
		expect(call[6].startsWith(project)).toBe(false);
		expect(existsSync(call[6])).toBe(false);
		await expect(gh.commentOnIssue(REPO, 3, "  \n")).rejects.toThrow("the comment must not be empty");
	});

	it("an injected failure of the second comment is 'network' and changes nothing; the third goes through", async () => {
		const { gh, state } = standin({ GH_STANDIN_FAIL: "issue comment:2" });
		await gh.commentOnIssue(REPO, 1, "one");
		const error = await ghError(gh.commentOnIssue(REPO, 1, "two"));
		expect(error).toMatchObject({ kind: "network", exitCode: 1 });
		expect(error.stderr).toBe("HTTP 502: 502 Bad Gateway (https://api.github.com/graphql)");
		await gh.commentOnIssue(REPO, 1, "three");
		expect(state().issues[0].comments).toEqual([{ body: "one" }, { body: "three" }]);
		expect(state().calls).toHaveLength(3);
	});

	it("lists pull requests from a head in any state", async () => {
		const { gh, state } = standin();
		expect(await gh.listPullRequests(REPO, "loop/issue-1-add-a-flag")).toEqual([
			{ number: 4, url: `https://github.com/${REPO}/pull/4`, state: "MERGED", headRefName: "loop/issue-1-add-a-flag" },
		]);
		expect(await gh.listPullRequests(REPO, "loop/issue-9-x")).toEqual([]);
		expect(state().calls[0]).toEqual(
			["pr", "list", "--repo", REPO, "--head", "loop/issue-1-add-a-flag", "--state", "all"].concat([
				"--json",
				"number,url,state,headRefName",
			]),
		);
	});

	it("creates a draft pull request from the printed URL; a second one from the same head fails", async () => {
		const { gh, state } = standin();
		const pr = { base: "trunk", head: "loop/issue-5-fix-the-docs", title: "--force", body: "Closes #5\n" };
		expect(await gh.createDraftPullRequest(REPO, pr)).toEqual({
			number: 6,
			url: `https://github.com/${REPO}/pull/6`,
			state: "OPEN",
			headRefName: "loop/issue-5-fix-the-docs",
		});
		expect(state().prs[1]).toMatchObject({
			title: "--force",
			body: "Closes #5\n",
			baseRefName: "trunk",
			isDraft: true,
		});
		const error = await ghError(gh.createDraftPullRequest(REPO, pr));
		expect(error.kind).toBe("other");
		expect(error.stderr).toContain(`already exists:\nhttps://github.com/${REPO}/pull/6`);
		expect(error.command).toMatch(
			/^gh pr create --repo acme\/widgets --draft --base trunk --head \S+ --title --force /,
		);
		expect(state().prs).toHaveLength(2);
		const calls = state().calls;
		expect(calls.map((call) => call.slice(0, 12))).toEqual([
			["pr", "create", "--repo", REPO, "--draft", "--base", "trunk", "--head", pr.head, "--title", "--force"].concat(
				"--body-file",
			),
			calls[0].slice(0, 12),
		]);
	});

	it("an injected pr create failure leaves no pull request behind", async () => {
		const { gh, state } = standin({ GH_STANDIN_FAIL: "issue view, pr create" });
		const pr = { base: "trunk", head: "loop/issue-5-x", title: "T", body: "B" };
		expect((await ghError(gh.createDraftPullRequest(REPO, pr))).kind).toBe("network");
		expect((await ghError(gh.viewIssue(REPO, 1))).kind).toBe("network");
		expect(await gh.listPullRequests(REPO, "loop/issue-5-x")).toEqual([]);
		expect(state().prs).toHaveLength(1);
	});

	it("concurrent calls each land (the stand-in's lock)", async () => {
		const { gh, state } = standin();
		const bodies = Array.from({ length: 8 }, (_, i) => `comment ${i}`);
		await Promise.all(bodies.map((body) => gh.commentOnIssue(REPO, 5, body)));
		const comments = state().issues.find((issue) => issue.number === 5)?.comments ?? [];
		expect(comments.map((comment) => comment.body).sort()).toEqual(bodies);
		expect(state().calls).toHaveLength(8);
	});

	it("checks its inputs before running gh", async () => {
		const { gh, state } = standin();
		await expect(gh.viewIssue("--repo=evil/x", 1)).rejects.toThrow(RangeError);
		await expect(gh.viewIssue("acme", 1)).rejects.toThrow("OWNER/NAME");
		await expect(gh.viewIssue(REPO, 0)).rejects.toThrow("positive whole number");
		await expect(gh.viewIssue(REPO, 1.5)).rejects.toThrow("positive whole number");
		await expect(gh.listIssues(REPO, "", 5)).rejects.toThrow("the label must not be empty");
		await expect(gh.createDraftPullRequest(REPO, { base: "main", head: "h", title: " ", body: "" })).rejects.toThrow(
			"the title must not be empty",
		);
		expect(state().calls).toEqual([]);
	});
});

describe("gh client failures", () => {
	it("says 'not-installed' when there is no gh", async () => {
		const dir = mkdtempSync(join(tmpdir(), "pi-gh-none-"));
		const error = await ghError(gitHub({ env: { PATH: dir } }).checkAuth());
		expect(error.kind).toBe("not-installed");
		expect(error.message).toBe("gh auth status failed: gh was not found (is the GitHub CLI installed and on PATH?)");
	});

	it("says what gh printed when it is not JSON, or not the JSON expected", async () => {
		const garbage = await ghError(scriptedGh("echo '<html>Unicorn!</html>'").listIssues(REPO, "loop", 3));
		expect(garbage.kind).toBe("other");
		expect(garbage.message).toBe(
			"gh issue list --repo acme/widgets --label loop --state open --json number,title,body,labels,url --limit 3 " +
				"failed: printed something that is not JSON: <html>Unicorn!</html>",
		);
		const shape = await ghError(scriptedGh(`echo '[{"number":"1"}]'`).listIssues(REPO, "loop", 3));
		expect(shape.message).toContain("printed unexpected JSON: number is not a positive whole number");
		const label = await ghError(
			scriptedGh(`echo '{"number":1,"title":"t","body":null,"url":"u","labels":[{}]}'`).viewIssue(REPO, 1),
		);
		expect(label.message).toContain("printed unexpected JSON: name is not a string");
		const noUrl = await ghError(
			scriptedGh("echo 'Creating pull request'").createDraftPullRequest(REPO, {
				base: "a",
				head: "b",
				title: "t",
				body: "",
			}),
		);
		expect(noUrl.message).toContain("printed no pull request URL: Creating pull request");
	});

	it("takes a null body as empty and plain-string labels as names", async () => {
		const out = `echo '{"number":7,"title":"t","body":null,"url":"u","labels":["a"],"state":"OPEN"}'`;
		expect(await scriptedGh(out).viewIssue(REPO, 7)).toEqual({
			number: 7,
			title: "t",
			body: "",
			labels: ["a"],
			url: "u",
			state: "OPEN",
		});
	});

	it("kills gh at the timeout", async () => {
		const started = Date.now();
		const error = await ghError(scriptedGh("exec sleep 30", { timeoutMs: 300 }).checkAuth());
		expect(Date.now() - started).toBeLessThan(5000);
		expect(error).toMatchObject({ kind: "network", timedOut: true });
		expect(error.message).toBe("gh auth status failed: timed out after 300 ms; gh was killed");
	});

	it("never shows a token gh printed", async () => {
		const token = `ghp_${"A1b2".repeat(9)}`;
		const secret = "s3cret-value-from-env";
		const script = `echo "HTTP 401: Bad credentials for ${token} and $GH_TOKEN" >&2; exit 1`;
		const error = await ghError(scriptedGh(script, { env: { GH_TOKEN: secret } }).viewRepo());
		expect(error.kind).toBe("auth");
		expect(error.message).toBe(
			"gh repo view --json nameWithOwner,defaultBranchRef failed (exit 1): " +
				"HTTP 401: Bad credentials for [token] and [token]",
		);
		expect(JSON.stringify(error)).not.toContain(secret);
	});

	it("tells the kinds apart by gh's words", () => {
		const cases: [string, string][] = [
			["You are not logged into any GitHub hosts. To log in, run: gh auth login", "auth"],
			["HTTP 401: Bad credentials (https://api.github.com/graphql)", "auth"],
			[
				"GraphQL: API rate limit exceeded for user ID 1. (But here's the good news: Authenticated requests get a " +
					"higher rate limit.)",
				"rate-limit",
			],
			["HTTP 403: You have exceeded a secondary rate limit.", "rate-limit"],
			["HTTP 403: Resource not accessible by integration", "other"],
			["GraphQL: Could not resolve to an issue or pull request with the number of 9. (repository.issue)", "not-found"],
			["HTTP 404: Not Found (https://api.github.com/repos/a/b)", "not-found"],
			["HTTP 502: 502 Bad Gateway (https://api.github.com/graphql)", "network"],
			["error connecting to api.github.com\ncheck your internet connection or https://githubstatus.com", "network"],
			['Post "https://api.github.com/graphql": dial tcp: lookup api.github.com: no such host', "network"],
			['a pull request for branch "x" into branch "main" already exists', "other"],
		];
		expect(cases.map(([stderr]) => ghErrorKind(stderr))).toEqual(cases.map(([, kind]) => kind));
	});
});

describe("the gh stand-in", () => {
	/** Calls outside the contract, each with the stand-in's reason. */
	const outside: [string[], string][] = [
		[["pr", "merge", "4"], "unknown command"],
		[["issue", "close", "1", "--repo", REPO], "unknown command"],
		[["api", "repos/acme/widgets"], "unknown command"],
		[
			["pr", "create", "--repo", REPO, "--base", "trunk", "--head", "h", "--title", "t", "--body", "b"],
			"missing draft",
		],
		[
			["pr", "create", "--repo", REPO, "--draft=true", "--base", "trunk", "--head", "h", "--title", "t"],
			"flag --draft=true",
		],
		[["auth", "status", "--show-token"], "flag --show-token"],
		[
			["issue", "list", "--repo", REPO, "--label", "loop", "--state", "all", "--json", ISSUE_FIELDS, "--limit", "5"],
			"--state must be open",
		],
		[["issue", "list", "--repo", REPO, "--label", "loop", "--state", "open", "--json", ISSUE_FIELDS], "missing limit"],
		[["issue", "view", "1", "-R", REPO, "--json", `${ISSUE_FIELDS},state`], "argument -R"],
		[["issue", "view", "1", "--repo", REPO, "--json", `${ISSUE_FIELDS},state,comments`], "--json must be"],
		[["issue", "comment", "1", "--repo", REPO, "--body", "a", "--body-file", "f"], "needs --body or --body-file"],
		[["issue", "edit", "1", "--repo", REPO, "--add-label", "a", "--add-label", "b"], "--add-label twice"],
		[["pr", "list", "--repo", REPO, "--head", "h", "--state", "all", "--json", PR_FIELDS, "--web"], "flag --web"],
	];

	it.each(outside.map(([argv, reason]) => [argv.join(" "), argv, reason] as const))(
		"rejects %s (exit 2, recorded)",
		async (_, argv, reason) => {
			const { run, state } = standin();
			used.pop(); // this stand-in is meant to hold a rejected call
			const outcome = await run([...argv]);
			expect(outcome).toEqual({ code: 2, stderr: expect.stringMatching(/^gh-standin: not in the contract: \[/) });
			expect((outcome as { stderr: string }).stderr).toContain(`(${reason}`);
			expect(state()).toMatchObject({ calls: [], rejected: [argv] });
		},
	);

	it("takes flags in any order, --flag=value forms and --body for --body-file", async () => {
		const { run, state } = standin();
		const argv = ["pr", "create", "--title=T", "--body", "B", "--head=h", "--draft", "--base", "trunk", "--repo", REPO];
		expect(await run(argv)).toBe(0);
		expect(await run(["issue", "comment", "--body=hello", "--repo", REPO, "3"])).toBe(0);
		expect(state().prs[1]).toMatchObject({
			headRefName: "h",
			baseRefName: "trunk",
			title: "T",
			body: "B",
			isDraft: true,
		});
		expect(state().issues[2].comments).toEqual([{ body: "hello" }]);
		expect(state().calls).toHaveLength(2);
	});
});

describe("issueBranch", () => {
	it("is loop/issue-<n>-<slug>", () => {
		expect(issueBranch(12, "Add a --dry-run flag to `deploy`!")).toBe("loop/issue-12-add-a-dry-run-flag-to-deploy");
		expect(issueBranch(3, "Café crème: ÜBER")).toBe("loop/issue-3-cafe-creme-uber");
		expect(issueBranch(4, `${"a".repeat(39)} bcd`)).toBe(`loop/issue-4-${"a".repeat(39)}`);
		expect(issueBranch(5, "x".repeat(100))).toBe(`loop/issue-5-${"x".repeat(40)}`);
		expect(issueBranch(6, "!!! ??? ///")).toBe("loop/issue-6-task");
		expect(issueBranch(7, "")).toBe("loop/issue-7-task");
		expect(() => issueBranch(0, "x")).toThrow(RangeError);
		expect(() => issueBranch(Number.NaN, "x")).toThrow(RangeError);
	});

	it("is a valid, harmless ref name whatever the title", () => {
		const hostile = [
			"../../x",
			"refs/heads/main",
			"--force",
			"-",
			"a..b",
			"x.lock",
			"@{upstream}",
			"HEAD",
			"日本語のタイトル",
			"emoji 🚀 launch",
			"tab\tnew\nline\0nul",
			"trailing.",
			"back\\slash ~^:?*[",
			"ß".repeat(200),
			`${"word ".repeat(60)}`,
		];
		for (const title of hostile) {
			const branch = issueBranch(42, title);
			expect(branch).toMatch(/^loop\/issue-42-[a-z0-9]+(?:-[a-z0-9]+)*$/);
			expect(branch.length).toBeLessThanOrEqual("loop/issue-42-".length + 40);
			expect(execFileSync("git", ["check-ref-format", "--branch", branch], { encoding: "utf8" }).trim()).toBe(branch);
		}
	});
});
