/**
 * End-to-end: the shipped `parallel-items` blueprint through the real pi CLI (print mode) with the scripted model,
 * on a git node project whose `npm test` fails until the items' modules exist: items of one wave run at the same
 * time in their own worktrees, land on the user's branch through factory.merge (with `--check tests`), get ticked
 * and committed one by one; a conflicting item is tried again on the new base; the user's uncommitted work stays.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	events,
	type Fixture,
	gitLog,
	killAtRequest,
	makeFixture,
	readLoopState,
	requests,
	requestTimes,
	runPrint,
	setScript,
} from "../support/harness.ts";

const read = (fx: Fixture, path: string) => readFileSync(join(fx.project, path), "utf8");
const git = (fx: Fixture, ...args: string[]) =>
	execFileSync("git", args, { cwd: fx.project, env: fx.env, encoding: "utf8" }).trim();
const npmTest = (fx: Fixture) => spawnSync("npm", ["test"], { cwd: fx.project, env: fx.env, encoding: "utf8" });
const PACKAGE = JSON.stringify({ name: "sample", private: true, scripts: { test: "node test.js" } });
const NOTES = "my notes, not committed yet\n";

/**
 * A project with PRD.md listing `items`, a test that fails until at least one of `names` is there (from `lib`) and
 * checks every one present, and notes.md changed but not committed.
 */
function project(items: string[], names: string[], lib: (name: string) => string, files: Record<string, string> = {}) {
	const test = [
		`const found = ${JSON.stringify(names)}.filter((name) => { try { return typeof ${lib("name")} === "function"; }`,
		"\tcatch { return false; } });",
		'if (found.length === 0) { console.log("1 failed: nothing there yet"); process.exit(1); }',
		`for (const name of found) if (${lib("name")}() !== name) { console.log("1 failed: " + name); process.exit(1); }`,
		'console.log("all passed: " + found.join(", "));',
		"",
	].join("\n");
	const fx = makeFixture({
		files: {
			"package.json": PACKAGE,
			"test.js": test,
			"PRD.md": ["# PRD", "", ...items.map((item) => `- [ ] ${item}`), ""].join("\n"),
			"notes.md": "my notes\n",
			...files,
		},
	});
	fx.env.XDG_CACHE_HOME = join(fx.root, "cache");
	writeFileSync(join(fx.project, "notes.md"), NOTES);
	return fx;
}

/** The item lines of PRD.md. */
const checklist = (fx: Fixture) =>
	read(fx, "PRD.md")
		.split("\n")
		.filter((line) => line.startsWith("- ["));

describe("parallel-items (print mode, isolated spawns)", () => {
	it("two independent items run at once in one wave, both land, ticked and committed; no worktree left", async () => {
		const items = ["add alpha.js exporting alpha", "add beta.js exporting beta"];
		const fx = project(items, ["alpha", "beta"], (name) => `require("./" + ${name} + ".js")`);
		expect(npmTest(fx).status).not.toBe(0);
		setScript(fx, {
			steps: [],
			routes: ["alpha", "beta"].map((name, i) => ({
				match: items[i],
				steps: [
					{ write: { path: `${name}.js`, content: `module.exports = () => "${name}";\n` }, delayMs: 800 },
					{ text: `${name}.js is there` },
				],
			})),
		});
		const result = await runPrint(fx, "/loop run parallel-items -- PRD.md --parallel 2 --check tests");
		expect(result.code, result.stderr).toBe(0);
		// The two agents overlap: each one's first request started before the other's was answered.
		const firstOf = (route: string) => requestTimes(fx).find((t) => t.route === route);
		const [a, b] = items.map(firstOf);
		expect(b?.startedAt).toBeLessThan(a?.endedAt as number);
		expect(a?.startedAt).toBeLessThan(b?.endedAt as number);
		expect(requests(fx)).toHaveLength(4);
		expect(checklist(fx)).toEqual(items.map((item) => `- [x] ${item}`));
		expect(read(fx, "alpha.js")).toBe('module.exports = () => "alpha";\n');
		expect(read(fx, "beta.js")).toBe('module.exports = () => "beta";\n');
		// One commit per tick, on the user's branch, holding PRD.md alone; the items' work merged below them.
		expect(gitLog(fx).slice(0, 2)).toEqual([items[1], items[0]]);
		for (const ref of ["HEAD", "HEAD~1"]) {
			expect(git(fx, "diff-tree", "--no-commit-id", "--name-only", "-r", ref)).toBe("PRD.md");
		}
		expect(git(fx, "log", "--format=%s", "HEAD~2", "--", "alpha.js", "beta.js")).not.toBe("");
		const test = npmTest(fx);
		expect(test.status, test.stdout).toBe(0);
		expect(test.stdout).toContain("all passed: alpha, beta");
		expect(git(fx, "worktree", "list").split("\n")).toHaveLength(1);
		expect(git(fx, "branch", "--list", "loop/*")).toBe("");
		expect(read(fx, "notes.md")).toBe(NOTES);
		expect(git(fx, "status", "--porcelain", "--", "PRD.md", "notes.md", "alpha.js", "beta.js")).toBe("M notes.md");
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		expect(state.blueprint.values).toMatchObject({ done: items, blocked: [], waves: [{ wave: 1, ticked: items }] });
		expect(
			events(fx)
				.filter((e) => e.type === "merge")
				.map((e) => e.status),
		).toEqual(["merged", "merged"]);
	});

	it("two items writing the same file: the second conflicts, is tried again on the new base and lands", async () => {
		const items = ["add function alpha to lib.js", "add function beta to lib.js"];
		const BASE = 'exports.base = () => "base";\n';
		const ALPHA = 'exports.alpha = () => "alpha";\n';
		const BETA = 'exports.beta = () => "beta";\n';
		const fx = project(items, ["alpha", "beta"], (name) => `require("./lib.js")[${name}]`, { "lib.js": BASE });
		setScript(fx, {
			steps: [],
			routes: [
				{
					match: items[0],
					steps: [{ write: { path: "lib.js", content: BASE + ALPHA }, delayMs: 500 }, { text: "added alpha" }],
				},
				{
					match: items[1],
					steps: [
						{ write: { path: "lib.js", content: BASE + BETA }, delayMs: 500 },
						{ text: "added beta" },
						// The retry starts from the merged alpha: it writes the file with both functions.
						{ write: { path: "lib.js", content: BASE + ALPHA + BETA } },
						{ text: "added beta next to alpha" },
					],
				},
			],
		});
		const result = await runPrint(fx, "/loop run parallel-items -- --check tests");
		expect(result.code, result.stderr).toBe(0);
		expect(read(fx, "lib.js")).toBe(BASE + ALPHA + BETA);
		expect(checklist(fx)).toEqual(items.map((item) => `- [x] ${item}`));
		const merges = events(fx).filter((e) => e.type === "merge");
		expect(merges.map((e) => e.status)).toEqual(["merged", "conflict", "merged"]);
		expect(merges[1].detail).toMatch(/conflicts with .* in lib\.js/);
		const betaPrompts = requests(fx)
			.filter((r) => r.route === items[1] && r.messages.length === 1)
			.map((r) => r.messages[0]?.text ?? "");
		expect(betaPrompts).toHaveLength(2);
		expect(betaPrompts[0]).not.toContain("earlier attempt");
		expect(betaPrompts[1]).toContain("An earlier attempt at this item did not land: conflict: loop/");
		// The retry's commit landed by fast-forward between the two ticks.
		expect(gitLog(fx).filter((subject) => items.includes(subject))).toEqual([items[1], items[0]]);
		expect(gitLog(fx)[0]).toBe(items[1]);
		const test = npmTest(fx);
		expect(test.status, test.stdout).toBe(0);
		expect(test.stdout).toContain("all passed: alpha, beta");
		const state = readLoopState(fx);
		expect(state.blueprint.values.waves).toMatchObject([
			{ wave: 1, ticked: [items[0]], retry: [items[1]] },
			{ wave: 2, items: [items[1]], ticked: [items[1]] },
		]);
		expect(state.blueprint.phases).toEqual(["wave 1: 2 item(s)", "wave 2: 1 item(s)"]);
		// The conflicting first attempt's branch is kept for review (the runner never drops unmerged work).
		expect(git(fx, "branch", "--list", "--format=%(refname:short)", "loop/*")).toBe(merges[1].branch);
		expect(git(fx, "worktree", "list").split("\n")).toHaveLength(2);
		expect(read(fx, "notes.md")).toBe(NOTES);
		expect(git(fx, "status", "--porcelain", "--", "PRD.md", "notes.md", "lib.js")).toBe("M notes.md");
	});

	it("with the checklist changed, not committed: merged items stay unticked and the run fails naming them", async () => {
		const items = ["add alpha.js exporting alpha"];
		const fx = project(items, ["alpha"], (name) => `require("./" + ${name} + ".js")`);
		const prd = `${read(fx, "PRD.md")}\nmy own note in the PRD\n`;
		writeFileSync(join(fx.project, "PRD.md"), prd);
		setScript(fx, {
			steps: [],
			routes: [
				{
					match: items[0],
					steps: [{ write: { path: "alpha.js", content: 'module.exports = () => "alpha";\n' } }, { text: "ok" }],
				},
			],
		});
		const result = await runPrint(fx, "/loop run parallel-items");
		expect(result.code).toBe(1);
		expect(result.stderr).toContain("1 item(s) left open in PRD.md");
		expect(result.stderr).toContain("merged, but not ticked: PRD.md has uncommitted changes");
		expect(read(fx, "PRD.md")).toBe(prd);
		expect(read(fx, "alpha.js")).toBe('module.exports = () => "alpha";\n');
		expect(read(fx, "notes.md")).toBe(NOTES);
		expect(requests(fx)).toHaveLength(2);
	});

	it("resumed after a kill: wave 1 replays from the journal (no second tick), wave 2 runs live", async () => {
		const items = ["add alpha.js exporting alpha", "add beta.js exporting beta"];
		const fx = project(items, ["alpha", "beta"], (name) => `require("./" + ${name} + ".js")`);
		const writes = (name: string) => [
			{ write: { path: `${name}.js`, content: `module.exports = () => "${name}";\n` } },
			{ text: `${name}.js is there` },
		];
		setScript(fx, {
			steps: [],
			routes: [
				{ match: items[0], steps: writes("alpha") },
				{ match: items[1], steps: [{ hang: true }, ...writes("beta")] },
			],
		});
		await killAtRequest(fx, "/loop run parallel-items -- --parallel 1", 3, "the second wave's model call");
		expect(checklist(fx)).toEqual([`- [x] ${items[0]}`, `- [ ] ${items[1]}`]);

		const resumed = await runPrint(fx, "/loop resume");
		expect(resumed.code, resumed.stderr).toBe(0);
		expect(requests(fx)).toHaveLength(5);
		expect(checklist(fx)).toEqual(items.map((item) => `- [x] ${item}`));
		// Replayed: the read of the list, wave 1's spawn and merge, its tick's status and commit.
		expect(events(fx).find((e) => e.type === "replayed")).toMatchObject({ steps: 5, position: 5 });
		expect(gitLog(fx).filter((subject) => items.includes(subject))).toEqual([items[1], items[0]]);
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		expect(state.blueprint.values.done).toEqual(items);
		expect(read(fx, "notes.md")).toBe(NOTES);
		// The killed spawn's worktree stays, listed for review (only what is proven merged is removed).
		expect(git(fx, "branch", "--list", "--format=%(refname:short)", "loop/*")).toMatch(/^loop\/.+\/\d+$/);
	});

	it("a check that fails in the item's worktree keeps it from merging; its retry, told the output, lands", async () => {
		const fx = project(["add alpha.js exporting alpha"], ["alpha"], (name) => `require("./" + ${name} + ".js")`, {
			"check.js":
				'if (!require("fs").readFileSync("alpha.js", "utf8").includes("v2")) {\n' +
				'  console.log("alpha.js is not v2 yet"); process.exit(1); }\n',
		});
		const alpha = (version: string) => `exports.alpha = () => "alpha"; // ${version}\n`;
		setScript(fx, {
			steps: [],
			routes: [
				{
					match: "add alpha.js",
					steps: [
						{ write: { path: "alpha.js", content: alpha("v1") } },
						{ text: "v1" },
						{ write: { path: "alpha.js", content: alpha("v2") } },
						{ text: "v2" },
					],
				},
			],
		});
		const result = await runPrint(fx, '/loop run parallel-items -- PRD.md --check "node check.js"');
		expect(result.code, result.stderr).toBe(0);
		expect(read(fx, "alpha.js")).toBe(alpha("v2"));
		expect(checklist(fx)).toEqual(["- [x] add alpha.js exporting alpha"]);
		const checks = events(fx).flatMap((e) => (e.type === "spawn_end" ? [e.check?.passed] : []));
		expect(checks).toEqual([false, true]);
		expect(events(fx).flatMap((e) => (e.type === "merge" ? [e.status] : []))).toEqual(["merged"]);
		const retry = requests(fx)[2]?.messages[0]?.text ?? "";
		expect(retry).toContain("the check failed in its worktree (node check.js):\nalpha.js is not v2 yet");
		const report = read(fx, `.pi/loop/runs/${readLoopState(fx).runId}/report.md`);
		expect(report).toMatch(/\| item 1\.1 \| `loop\/[^`]+` \| failed: `node check.js` \| not merged \|/);
		expect(report).toMatch(/\| item 1\.2 \| `loop\/[^`]+` \| passed: `node check.js` \| merged \|/);
		expect(read(fx, "notes.md")).toBe(NOTES);
	});

	it("a check passing in the worktree, failing on the merged result, sends the item back; the retry lands", async () => {
		const items = ["add alpha.js exporting alpha", "add beta.js exporting beta"];
		// Each alone passes; alpha with the first beta does not.
		const check = [
			'const fs = require("fs");',
			'if (fs.existsSync("alpha.js") && fs.existsSync("beta.js") && !fs.readFileSync("beta.js", "utf8").includes("v2"))',
			'  { console.log("beta v1 breaks alpha"); process.exit(1); }',
			"",
		].join("\n");
		const fx = project(items, ["alpha", "beta"], (name) => `require("./" + ${name} + ".js")`, { "check.js": check });
		const lib = (name: string, version: string) => `module.exports = () => "${name}"; // ${version}\n`;
		setScript(fx, {
			steps: [],
			routes: [
				{ match: items[0], steps: [{ write: { path: "alpha.js", content: lib("alpha", "v1") } }, { text: "alpha" }] },
				{
					match: items[1],
					steps: [
						{ write: { path: "beta.js", content: lib("beta", "v1") } },
						{ text: "beta v1" },
						{ write: { path: "beta.js", content: lib("beta", "v2") } },
						{ text: "beta v2" },
					],
				},
			],
		});
		const result = await runPrint(fx, '/loop run parallel-items -- PRD.md --parallel 2 --check "node check.js"');
		expect(result.code, result.stderr).toBe(0);
		expect(read(fx, "beta.js")).toBe(lib("beta", "v2"));
		expect(checklist(fx)).toEqual(items.map((item) => `- [x] ${item}`));
		const merges = events(fx).flatMap((e) => (e.type === "merge" ? [e.status] : []));
		expect(merges).toEqual(["merged", "check-failed", "merged"]);
		expect(npmTest(fx).status).toBe(0);
		expect(read(fx, "notes.md")).toBe(NOTES);
	});
});
