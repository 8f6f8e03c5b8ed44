/**
 * End-to-end: /loop plan, /loop build and /loop prd through the real pi CLI
 * with the scripted model — harness-verified ticks, commits, blocking,
 * the plan write guard, PRD sync, hydration and config errors.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	events,
	failingTest,
	gitLog,
	makeFixture,
	NODE_TEST_PACKAGE,
	passingTest,
	readLoopState,
	requests,
	requestTimes,
	runPrint,
	setScript,
} from "../support/harness.ts";

const PASSING = passingTest;
const FAILING = failingTest;

const PACKAGE = NODE_TEST_PACKAGE;
const PLAN = [
	"# Plan",
	"",
	"- [ ] Add the alpha module (specs/alpha.md)",
	"- [ ] Add the beta module",
	"- [ ] Add the gamma module",
	"",
].join("\n");

function read(project: string, file: string): string {
	return readFileSync(join(project, file), "utf8");
}

describe("/loop build", () => {
	it("builds a 3-item plan in 3 iterations with 3 commits and 3 ticks", async () => {
		const fx = makeFixture({
			files: {
				"package.json": PACKAGE,
				"IMPLEMENTATION_PLAN.md": PLAN,
				"specs/alpha.md": "# Alpha\n\nAlpha exports a greeting.\n",
				".gitignore": "node_modules\n",
			},
		});
		setScript(fx, {
			steps: [
				{ write: { path: "alpha.test.js", content: PASSING("alpha") } },
				{ text: "Alpha done; tests live next to modules." },
				{ write: { path: "beta.test.js", content: PASSING("beta") } },
				{ text: "Beta done." },
				{ write: { path: "gamma.test.js", content: PASSING("gamma") } },
				{ text: "Gamma done." },
			],
		});
		writeFileSync(join(fx.project, "scratch.txt"), "the user's own unrelated work\n");
		const result = await runPrint(fx, "/loop build --max 5");
		expect(result.code, result.stderr).toBe(0);
		// Only the items' files were committed; the user's own work stays untouched and uncommitted.
		expect(execFileSync("git", ["status", "--porcelain"], { cwd: fx.project, encoding: "utf8" })).toBe(
			"?? scratch.txt\n",
		);
		expect(read(fx.project, "IMPLEMENTATION_PLAN.md")).toContain(
			"- [x] Add the alpha module (specs/alpha.md)\n- [x] Add the beta module\n- [x] Add the gamma module",
		);
		expect(gitLog(fx)).toEqual([
			"loop: Add the gamma module",
			"loop: Add the beta module",
			"loop: Add the alpha module (specs/alpha.md)",
			"initial",
		]);
		const ev = events(fx);
		expect(ev.filter((e) => e.type === "item_done").map((e) => e.item)).toEqual([
			"Add the alpha module (specs/alpha.md)",
			"Add the beta module",
			"Add the gamma module",
		]);
		expect(ev.at(-1)).toMatchObject({ type: "run_end", reason: "plan-complete", iterations: 3 });
		expect(read(fx.project, ".pi/loop/progress.md").trim().split("\n")).toHaveLength(3);
		// Each iteration is asked for its own item only, and the referenced spec reaches the model.
		const firsts = requests(fx).filter((_r, i) => i % 2 === 0);
		expect(
			firsts.map(
				(r) =>
					r.messages
						.map((m) => m.text)
						.join("\n")
						.match(/## Your item \(from IMPLEMENTATION_PLAN.md\)\n(.*)/)?.[1],
			),
		).toEqual(["Add the alpha module (specs/alpha.md)", "Add the beta module", "Add the gamma module"]);
		expect(firsts[0]?.messages.map((m) => m.text).join("\n")).toContain("Alpha exports a greeting.");
		const report = read(fx.project, `.pi/loop/runs/${readLoopState(fx).runId}/report.md`);
		expect(report).toContain("3 done in this run · 0 blocked · 0 remaining");
	});

	it("overrides an agent that ticks its item while the checks fail", async () => {
		const fx = makeFixture({ files: { "package.json": PACKAGE, "IMPLEMENTATION_PLAN.md": PLAN } });
		setScript(fx, {
			steps: [
				{ write: { path: "alpha.test.js", content: FAILING("alpha") } },
				{
					write: {
						path: "IMPLEMENTATION_PLAN.md",
						content: PLAN.replace("- [ ] Add the alpha", "- [x] Add the alpha"),
					},
				},
				{ text: "Done (I ticked it myself)." },
			],
		});
		const result = await runPrint(fx, "/loop build --max 1");
		expect(result.code).toBe(1);
		expect(read(fx.project, "IMPLEMENTATION_PLAN.md")).toContain("- [ ] Add the alpha module");
		expect(events(fx).find((e) => e.type === "tick_overridden")).toMatchObject({
			item: "Add the alpha module (specs/alpha.md)",
		});
		expect(gitLog(fx)).toEqual(["initial"]);
	});

	it("blocks an item after 2 failed attempts and moves on to the next", async () => {
		const fx = makeFixture({ files: { "package.json": PACKAGE, "IMPLEMENTATION_PLAN.md": PLAN } });
		setScript(fx, {
			steps: [
				{ write: { path: "alpha.test.js", content: FAILING("alpha") } },
				{ text: "First try." },
				{ text: "Second try: I could not find the cause." },
				{ write: { path: "alpha.test.js", content: PASSING("alpha") } },
				{ text: "Beta done (and the alpha test repaired)." },
			],
			fallback: { text: "nothing more" },
		});
		const result = await runPrint(fx, "/loop build --max 3 --no-commit");
		expect(result.code).toBe(1);
		const plan = read(fx.project, "IMPLEMENTATION_PLAN.md");
		expect(plan).toMatch(
			/- \[ \] Add the alpha module \(specs\/alpha\.md\) <!-- loop: blocked: checks failed 2 times \(.*\) -->/,
		);
		expect(plan).toContain("- [x] Add the beta module");
		// The third prompt is about beta: the blocked item was skipped, not re-dispatched.
		const prompts = requests(fx).map((r) => r.messages[0]?.text ?? "");
		expect(prompts[2]).toMatch(/attempt 2 of 2/);
		expect(prompts[2]).toContain("The previous attempt failed (exit 1, 1 failure)");
		expect(prompts[3]).toContain("Add the beta module");
		expect(events(fx).filter((e) => e.type === "item_blocked")).toHaveLength(1);
		expect(gitLog(fx)).toEqual(["initial"]); // --no-commit
		expect(events(fx).at(-1)).toMatchObject({ reason: "max-iterations" });
	});
});

describe("/loop plan", () => {
	it("writes the plan, is blocked from touching source, and ends plan-stable", async () => {
		const fx = makeFixture({ files: { "specs/alpha.md": "# Alpha\n\nAlpha greets.\n", "README.md": "sample\n" } });
		setScript(fx, {
			steps: [
				{ write: { path: "src/alpha.js", content: "module.exports = 1;\n" } },
				{ write: { path: "IMPLEMENTATION_PLAN.md", content: "- [ ] Add alpha (specs/alpha.md)\n" } },
				{ text: "Wrote the plan." },
				{ text: "The plan is complete; no changes." },
			],
		});
		const result = await runPrint(fx, "/loop plan --max 4");
		expect(result.code, result.stderr).toBe(0);
		expect(existsSync(join(fx.project, "src", "alpha.js"))).toBe(false);
		expect(read(fx.project, "IMPLEMENTATION_PLAN.md")).toBe("- [ ] Add alpha (specs/alpha.md)\n");
		const blocked = requests(fx)[1]?.messages.at(-1)?.text ?? "";
		expect(blocked).toContain(
			"planning loop: only IMPLEMENTATION_PLAN.md and new spec files under specs/ may be written; " +
				"src/alpha.js was not changed",
		);
		expect(events(fx).at(-1)).toMatchObject({ reason: "plan-stable", iterations: 2 });
		expect(requests(fx)[0]?.messages[0]?.text).toContain("Specs (1): specs/alpha.md");
	});
});

describe("/loop prd", () => {
	it("parses PRD items into tasks.json, works them one per iteration and syncs the checkboxes", async () => {
		const fx = makeFixture({
			files: {
				"package.json": PACKAGE,
				"PRD.md": "# PRD\n\n- [ ] Users can sign up\n- [x] Already shipped\n- [ ] Users can log in\n",
			},
		});
		setScript(fx, {
			steps: [
				{ write: { path: "signup.test.js", content: PASSING("signup") } },
				{ text: "signup" },
				{ write: { path: "login.test.js", content: PASSING("login") } },
				{ text: "login" },
			],
		});
		const result = await runPrint(fx, "/loop prd PRD.md");
		expect(result.code, result.stderr).toBe(0);
		expect(read(fx.project, "PRD.md")).toBe(
			"# PRD\n\n- [x] Users can sign up\n- [x] Already shipped\n- [x] Users can log in\n",
		);
		const tasks = JSON.parse(read(fx.project, ".pi/loop/tasks.json"));
		expect(tasks).toEqual([
			{ id: 1, description: "Users can sign up", completed: true, source: "PRD.md" },
			{ id: 2, description: "Already shipped", completed: true, source: "PRD.md" },
			{ id: 3, description: "Users can log in", completed: true, source: "PRD.md" },
		]);
		expect(events(fx).at(-1)).toMatchObject({ reason: "prd-complete", iterations: 2 });
	});

	it.each([
		["/loop prd MISSING.md", {}, /PRD file MISSING\.md does not exist/],
		["/loop prd PRD.md", { "PRD.md": "# nothing to do\n" }, /PRD\.md has no "- \[ \]" items/],
		["/loop prd ../outside.md", {}, /outside the project/],
	])("%s → clear error, exit 2", async (command, files, message) => {
		const fx = makeFixture({ files: { "package.json": PACKAGE, ...files } });
		const result = await runPrint(fx, command);
		expect(result.code).toBe(2);
		expect(result.stderr).toMatch(message);
		expect(requests(fx)).toHaveLength(0);
	});
});

describe("hydration and config", () => {
	const SPECS = {
		"specs/auth.md": "# Auth\n\nLogin takes an email and a password and returns a session token.\n",
		"specs/billing.md": "# Billing\n\nInvoices are generated monthly with line items and taxes.\n",
		"specs/sessions.md": "# Sessions\n\nA session token expires after one hour of inactivity.\n",
	};

	it("includes the referenced spec and leaves an irrelevant one out under a small budget", async () => {
		const fx = makeFixture({
			files: {
				...SPECS,
				"package.json": PACKAGE,
				"IMPLEMENTATION_PLAN.md": "- [ ] Implement login with session token (specs/auth.md)\n",
				".pi/loop.json": JSON.stringify({ hydration: { budget: 600 } }),
			},
		});
		setScript(fx, { steps: [{ write: { path: "login.test.js", content: PASSING("login") } }, { text: "done" }] });
		const result = await runPrint(fx, "/loop build --no-commit");
		expect(result.code, result.stderr).toBe(0);
		const context =
			requests(fx)[0]
				?.messages.map((m) => m.text)
				.join("\n") ?? "";
		expect(context).toContain("## specs/auth.md (referenced by the task)");
		expect(context).toContain("Login takes an email and a password");
		expect(context).toContain("session token expires after one hour"); // relevant section fits
		expect(context).not.toContain("Invoices are generated monthly"); // would fit, but is not relevant
		expect(context).toMatch(/of 600 tokens/);
	});

	it("/hydrate previews the pieces with token counts", async () => {
		const fx = makeFixture({ files: SPECS });
		const result = await runPrint(fx, "/hydrate implement login (specs/auth.md)");
		expect(result.stderr).toMatch(/spec\s+\d+ tok\s+specs\/auth\.md/);
		expect(result.stderr).toMatch(/total\s+\d+ tok\s+of 12000/);
		expect(requests(fx)).toHaveLength(0);
	});

	it("rejects a bad .pi/loop.json naming each bad key, and runs nothing", async () => {
		const fx = makeFixture({
			files: {
				"package.json": PACKAGE,
				"IMPLEMENTATION_PLAN.md": PLAN,
				".pi/loop.json": JSON.stringify({ build: { attempts: "two" }, colour: "blue" }),
			},
		});
		const result = await runPrint(fx, "/loop build");
		expect(result.code).toBe(2);
		expect(result.stderr).toContain('key "build.attempts": must be integer');
		expect(result.stderr).toContain('unknown key "colour"');
		expect(requests(fx)).toHaveLength(0);
	});
});

describe("/loop build --parallel", () => {
	it("works two items at once in their own worktrees; both land ticked and committed, tests green", async () => {
		const fx = makeFixture({
			files: {
				"package.json": PACKAGE,
				"IMPLEMENTATION_PLAN.md": "# Plan\n\n- [ ] Add the alpha module\n- [ ] Add the beta module\n",
				"specs/alpha.md": "# Alpha\n\nAlpha exports a greeting in capitals.\n",
				".gitignore": "node_modules\n",
			},
		});
		fx.env.XDG_CACHE_HOME = join(fx.root, "cache");
		setScript(fx, {
			steps: [],
			routes: ["alpha", "beta"].map((name) => ({
				match: `Add the ${name} module`,
				steps: [{ write: { path: `${name}.test.js`, content: PASSING(name) }, delayMs: 400 }, { text: `${name} done` }],
			})),
		});
		writeFileSync(join(fx.project, "scratch.txt"), "the user's own unrelated work\n");
		const result = await runPrint(fx, "/loop build --parallel 2");
		expect(result.code, result.stderr).toBe(0);
		expect(result.stderr).toContain("running the parallel-items blueprint on IMPLEMENTATION_PLAN.md");
		expect(read(fx.project, "IMPLEMENTATION_PLAN.md")).toBe(
			"# Plan\n\n- [x] Add the alpha module\n- [x] Add the beta module\n",
		);
		expect(gitLog(fx).slice(0, 2).sort()).toEqual(["Add the alpha module", "Add the beta module"]);
		expect(read(fx.project, "scratch.txt")).toBe("the user's own unrelated work\n");
		const [first, second] = requestTimes(fx);
		expect(second?.startedAt).toBeLessThan(first?.endedAt as number); // both items' agents worked at once
		const sent = requests(fx);
		// The build instructions and the item's specs reached each item's agent.
		const alpha = sent.find((r) => r.messages.some((m) => m.text.includes("Add the alpha module")));
		expect(alpha?.systemPrompt).toContain("do not tick the item");
		expect(alpha?.messages.map((m) => m.text).join("\n")).toContain("greeting in capitals");
		const git = (...args: string[]) =>
			execFileSync("git", args, { cwd: fx.project, env: fx.env, encoding: "utf8" }).trim();
		expect(git("worktree", "list").split("\n")).toHaveLength(1);
		expect(git("branch", "--list", "loop/*")).toBe("");
		expect(execFileSync("npm", ["test"], { cwd: fx.project, env: fx.env, encoding: "utf8" })).toContain("pass 2");
		expect(readLoopState(fx)).toMatchObject({ reason: "completed" });
	});

	it("refuses combinations it does not support, before anything runs", async () => {
		const fx = makeFixture({ files: { "package.json": PACKAGE, "IMPLEMENTATION_PLAN.md": PLAN } });
		const review = await runPrint(fx, "/loop build --parallel 2 --review");
		expect(review.code).toBe(2);
		expect(review.stderr).toContain("--review does not combine with --parallel");
		const tests = await runPrint(fx, "/loop tests --parallel 2");
		expect(tests.code).toBe(2);
		expect(tests.stderr).toContain("unknown flag --parallel for /loop tests");
		expect(requests(fx)).toHaveLength(0);
	});
});
