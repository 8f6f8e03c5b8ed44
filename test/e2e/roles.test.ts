/**
 * End-to-end: model-role routing through the real pi CLI with a scripted
 * provider exposing several models — which model each request hit, fallback
 * when a role's model has no key, /role switching and restore, errors.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	BUGGY_LIB,
	events,
	type Fixture,
	LIB_FIXED,
	makeFixture,
	NODE_TEST_PACKAGE,
	passingTest,
	readLoopState,
	requests,
	runPrint,
	runPrintAll,
	savedDefaultModel,
	setScript,
	useDefaultModel,
} from "../support/harness.ts";

const MODELS = "faux-1,plan-m,impl-m,review-m,commit-m";
const ROLES = { plan: "faux/plan-m", implement: "faux/impl-m", review: "faux/review-m", commit: "faux/commit-m" };
const PASSING = passingTest;

function rolesFixture(files: Record<string, string>, roles: Record<string, string | string[]> = ROLES): Fixture {
	const fx = makeFixture({ files: { ...files, ".pi/loop.json": JSON.stringify({ roles }) } });
	fx.env.LOOP_FAUX_MODELS = MODELS;
	fx.env.LOOP_FAUX_LOCKED_MODELS = "locked-1";
	return fx;
}

const modelsHit = (fx: Fixture) => requests(fx).map((r) => r.model);

describe("model roles", () => {
	it("runs plan iterations on the plan model", async () => {
		const fx = rolesFixture({ "specs/a.md": "# A\n\nA does a.\n" });
		setScript(fx, {
			steps: [
				{ write: { path: "IMPLEMENTATION_PLAN.md", content: "- [ ] Do a (specs/a.md)\n" } },
				{ text: "planned" },
				{ text: "stable" },
			],
		});
		const result = await runPrint(fx, "/loop plan");
		expect(result.code, result.stderr).toBe(0);
		expect(modelsHit(fx)).toEqual(["plan-m", "plan-m", "plan-m"]);
		expect(
			events(fx)
				.filter((e) => e.type === "iteration_end")
				.map((e) => [e.role, e.model]),
		).toEqual([
			["plan", "faux/plan-m"],
			["plan", "faux/plan-m"],
		]);
	});

	const threeRoles =
		"builds on the implement model, reviews on the review model, and writes the commit message with the commit model";
	it(threeRoles, async () => {
		const fx = rolesFixture({ "package.json": NODE_TEST_PACKAGE, "IMPLEMENTATION_PLAN.md": "- [ ] Add alpha\n" });
		setScript(fx, {
			steps: [
				{ write: { path: "alpha.test.js", content: PASSING("alpha") } },
				{ text: "alpha added" },
				{ text: "Looks right. <verdict>approve</verdict>" },
				{ text: "Adds the alpha test module." },
			],
			costPerCall: 0.01,
		});
		const result = await runPrint(fx, "/loop build --review");
		expect(result.code, result.stderr).toBe(0);
		expect(modelsHit(fx)).toEqual(["impl-m", "impl-m", "review-m", "commit-m"]);
		// The reviewer read the iteration's diff; the commit body came from the commit model.
		expect(requests(fx)[2]?.messages[0]?.text).toContain("+++ b/alpha.test.js");
		const body = execFileSync("git", ["log", "-1", "--format=%B"], { cwd: fx.project, encoding: "utf8" });
		expect(body).toContain("loop: Add alpha");
		expect(body).toContain("Adds the alpha test module.");
		const ev = events(fx);
		expect(ev.find((e) => e.type === "review")).toMatchObject({
			role: "review",
			model: "faux/review-m",
			blocking: false,
			cost: 0.01,
		});
		const message = ev.find((e) => e.type === "commit_message");
		expect(message).toMatchObject({ role: "commit", model: "faux/commit-m" });
		expect(message?.usage.input).toBeGreaterThan(0); // a direct model call: the provider's own usage is recorded
		const report = readFileSync(join(fx.project, ".pi/loop/runs", readLoopState(fx).runId, "report.md"), "utf8");
		expect(report).toContain("faux/impl-m");
		expect(report).toMatch(/\| review \| faux\/review-m \| 1 \| .*\$0\.01/);
	});

	it("feeds blocking review findings to the next iteration instead of ending", async () => {
		const fx = rolesFixture(BUGGY_LIB);
		setScript(fx, {
			steps: [
				{ write: { path: "lib.js", content: LIB_FIXED } },
				{ text: "fixed" },
				{ text: "FINDING-42: mul has no test for negatives. <verdict>block</verdict>" },
				{ text: "Added nothing; the finding is noted." },
			],
		});
		const result = await runPrint(fx, '/loop until "node test.js" --review');
		expect(result.code, result.stderr).toBe(0);
		expect(modelsHit(fx)).toEqual(["impl-m", "impl-m", "review-m", "impl-m"]);
		expect(requests(fx)[3]?.messages[0]?.text).toContain("## Review findings to address first");
		expect(requests(fx)[3]?.messages[0]?.text).toContain("FINDING-42");
		expect(events(fx).at(-1)).toMatchObject({ reason: "passed", iterations: 2 });
	});

	it("falls back along the chain when a model has no key, with one warning", async () => {
		const fx = rolesFixture(BUGGY_LIB, { implement: ["faux-locked/locked-1", "faux/impl-m"] });
		setScript(fx, { steps: [{ write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }] });
		const result = await runPrint(fx, '/loop until "node test.js"');
		expect(result.code, result.stderr).toBe(0);
		expect(modelsHit(fx)).toEqual(["impl-m", "impl-m"]);
		const warnings = result.stderr.split("\n").filter((l) => l.includes("skipped faux-locked/locked-1"));
		expect(warnings).toEqual([
			"role implement: skipped faux-locked/locked-1 (implement: no API key for faux-locked); " +
				"using faux/impl-m (implement)",
		]);
	});

	it("restores the user's model after a loop, and changes nothing when no role is configured", async () => {
		const fx = rolesFixture(BUGGY_LIB);
		setScript(fx, {
			steps: [{ write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }, { text: "hello again" }],
		});
		const result = await runPrintAll(fx, ['/loop until "node test.js"', "what model are you?"]);
		expect(result.code, result.stderr).toBe(0);
		expect(modelsHit(fx)).toEqual(["impl-m", "impl-m", "faux-1"]);

		const plain = makeFixture();
		setScript(plain, { steps: [{ write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }] });
		await runPrint(plain, '/loop until "node test.js"');
		expect(modelsHit(plain)).toEqual(["faux-1", "faux-1"]);
	});

	it("runs unrouted phases on the user's model and restores it, also without --model", async () => {
		const fx = rolesFixture(BUGGY_LIB, { review: "faux/review-m" });
		useDefaultModel(fx);
		setScript(fx, {
			steps: [
				{ write: { path: "lib.js", content: LIB_FIXED } },
				{ text: "fixed" },
				{ text: "FINDING-7 <verdict>block</verdict>" },
				{ text: "addressed" },
			],
		});
		const result = await runPrint(fx, '/loop until "node test.js" --review');
		expect(result.code, result.stderr).toBe(0);
		// implement is unset: its iterations stay on the user's model even after the review model ran.
		expect(modelsHit(fx)).toEqual(["faux-1", "faux-1", "review-m", "faux-1"]);
		expect(savedDefaultModel(fx)).toBe("faux/faux-1");
		expect(readLoopState(fx).userModel).toMatchObject({ provider: "faux", id: "faux-1" });
	});

	it("does not spend a model call on commit messages without a commit or smol role", async () => {
		const fx = rolesFixture(
			{ "package.json": NODE_TEST_PACKAGE, "IMPLEMENTATION_PLAN.md": "- [ ] Add alpha\n" },
			{ implement: "faux/impl-m" },
		);
		setScript(fx, {
			steps: [{ write: { path: "alpha.test.js", content: PASSING("alpha") } }, { text: "alpha added" }],
		});
		const result = await runPrint(fx, "/loop build");
		expect(result.code, result.stderr).toBe(0);
		expect(modelsHit(fx)).toEqual(["impl-m", "impl-m"]);
		expect(execFileSync("git", ["log", "-1", "--format=%B"], { cwd: fx.project, encoding: "utf8" })).toContain(
			"alpha added",
		);
	});

	it("a blocking review keeps the item open for one more round, then the item is ticked", async () => {
		const fx = rolesFixture(
			{ "package.json": NODE_TEST_PACKAGE, "IMPLEMENTATION_PLAN.md": "- [ ] Add alpha\n" },
			{ review: "faux/review-m" },
		);
		setScript(fx, {
			steps: [
				{ write: { path: "alpha.test.js", content: PASSING("alpha") } },
				{ text: "alpha added" },
				{ text: "FINDING-9: no negative case. <verdict>block</verdict>" },
				{ write: { path: "alpha.test.js", content: PASSING("alpha and negatives") } },
				{ text: "added the negative case" },
			],
		});
		const result = await runPrint(fx, "/loop build --review --no-commit");
		expect(result.code, result.stderr).toBe(0);
		expect(modelsHit(fx)).toEqual(["faux-1", "faux-1", "review-m", "faux-1", "faux-1"]);
		expect(requests(fx)[3]?.messages[0]?.text).toContain("FINDING-9");
		const ev = events(fx);
		expect(ev.filter((e) => e.type === "review_blocked")).toHaveLength(1);
		expect(ev.filter((e) => e.type === "review")).toHaveLength(1); // one round per item
		expect(ev.find((e) => e.type === "item_done")).toMatchObject({ iteration: 2 });
		expect(readFileSync(join(fx.project, "IMPLEMENTATION_PLAN.md"), "utf8")).toBe("- [x] Add alpha\n");
	});

	it("/role switches the session to a role's model and /role restore brings the user's back", async () => {
		const fx = rolesFixture({ "README.md": "x\n" });
		setScript(fx, { steps: [{ text: "as planner" }, { text: "as myself" }] });
		const result = await runPrintAll(fx, ["/role plan", "plan something", "/role restore", "and now?"]);
		expect(result.code, result.stderr).toBe(0);
		expect(modelsHit(fx)).toEqual(["plan-m", "faux-1"]);
		expect(result.stderr).toContain("role plan: faux/plan-m");
		expect(result.stderr).toContain("restored faux/faux-1");
	});

	it("/role lists roles with their resolution and why a model is unusable", async () => {
		const fx = rolesFixture({ "README.md": "x\n" }, { ...ROLES, smol: "faux-locked/locked-1", slow: "faux/nope" });
		const result = await runPrint(fx, "/role");
		expect(result.stderr).toMatch(/^role\s+configured\s+resolved\s+usable\s+why not/m);
		expect(result.stderr).toMatch(/^plan\s+faux\/plan-m\s+faux\/plan-m\s+yes/m);
		expect(result.stderr).toMatch(
			new RegExp(
				[
					String.raw`^smol\s+faux-locked\/locked-1\s+—\s+session model \(faux\/faux-1\)\s+`,
					String.raw`faux-locked\/locked-1: no API key for faux-locked`,
				].join(""),
				"m",
			),
		);
		expect(result.stderr).toMatch(/^slow\s+faux\/nope\s+.*faux\/nope: unknown model/m);
		expect(result.stderr).toMatch(/^commit\s+faux\/commit-m\s+faux\/commit-m\s+yes/m);
		expect(requests(fx)).toHaveLength(0);
	});

	it.each([
		["/role nope", /unknown role "nope"; roles: default, plan, implement, review, commit, smol, slow/],
		[
			'/loop until "node test.js" --role nope',
			/unknown role "nope"; roles: default, plan, implement, review, commit, smol, slow/,
		],
	])("%s → error listing the roles, exit 2, no model call", async (command, message) => {
		const fx = rolesFixture(BUGGY_LIB);
		const result = await runPrint(fx, command);
		expect(result.code).toBe(2);
		expect(result.stderr).toMatch(message);
		expect(requests(fx)).toHaveLength(0);
	});

	it("rejects invalid role config naming the key", async () => {
		const fx = rolesFixture(BUGGY_LIB, { plan: "not a spec" });
		const result = await runPrint(fx, '/loop until "node test.js"');
		expect(result.code).toBe(2);
		expect(result.stderr).toContain('key "roles.plan": must be a model spec "provider/model-id[:thinking]"');
	});
});
