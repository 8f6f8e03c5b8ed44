/**
 * End-to-end: failure identity on real test runners, through the real pi
 * CLI with the scripted model — a do-nothing agent is stopped by stagnation
 * after exactly --stagnation iterations on `node --test`, jest and cargo test
 * (whose timing lines, estimates and thread ids differ on every run), and a
 * project without tests gets no fix rounds from the gates and a "write the
 * tests" prompt from /loop tests.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CheckRecord } from "../../extensions/loop/types.ts";
import {
	events,
	type Fixture,
	failingTest,
	linkBin,
	makeFixture,
	readLoopState,
	requests,
	runPrint,
	setScript,
} from "../support/harness.ts";

const JEST_TEST = [
	'test("adds numbers", () => { expect(1 + 1).toBe(3); });',
	'test("multiplies numbers", () => { expect(2 * 2).toBe(5); });',
	'test("divides numbers", () => { expect(4 / 2).toBe(2); });',
	"",
].join("\n");

function doNothing(fx: Fixture): void {
	setScript(fx, { steps: [], fallback: { text: "I looked around and changed nothing." } });
}

async function expectStagnation(fx: Fixture, check: string): Promise<void> {
	doNothing(fx);
	const result = await runPrint(fx, `/loop until "${check}" --max 8 --stagnation 2`);
	expect(result.code, result.stderr).toBe(1);
	expect(events(fx).at(-1)).toMatchObject({ type: "run_end", reason: "stagnation", iterations: 2 });
	expect(requests(fx)).toHaveLength(2);
	const checks = events(fx).filter((e) => e.type === "check");
	expect(checks).toHaveLength(3);
	// The raw output differs from run to run; what failed does not.
	expect(new Set(checks.map((c) => c.fingerprint)).size).toBe(1);
	expect(checks[0]).toMatchObject({ identity: "failures", failures: 2 });
}

describe("failure identity end to end", () => {
	it("stagnation stops a do-nothing agent on node --test after exactly --stagnation iterations", async () => {
		const fx = makeFixture({
			files: { "test/a.test.js": failingTest("adds numbers"), "test/b.test.js": failingTest("multiplies numbers") },
		});
		await expectStagnation(fx, "node --test");
		const first = events(fx).find((e) => e.type === "check");
		expect(first?.failureIds).toEqual(expect.arrayContaining([expect.stringContaining("adds numbers")]));
		expect(readLoopState(fx).checks[0]?.tail).toMatch(/duration_ms/);
	});

	it("stagnation stops a do-nothing agent on jest (timings and estimates differ per run)", async () => {
		const fx = makeFixture({
			files: {
				"package.json": JSON.stringify({ name: "j", private: true }),
				"math.test.js": JEST_TEST,
				".gitignore": "node_modules/\n",
			},
		});
		linkBin(fx, "jest", "jest/bin/jest.js");
		await expectStagnation(fx, "node_modules/.bin/jest");
		const tails = (readLoopState(fx).checks as CheckRecord[]).map((c) => c.tail);
		expect(tails.some((t) => /estimated/.test(t))).toBe(true);
		expect(new Set(tails).size).toBeGreaterThan(1);
	});

	const hasCargo = spawnSync("cargo", ["--version"]).status === 0;
	it.skipIf(!hasCargo)("stagnation stops a do-nothing agent on cargo test (thread ids differ per run)", async () => {
		const fx = makeFixture({
			files: {
				"Cargo.toml": '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n',
				"src/lib.rs": [
					"pub fn add(a: i32, b: i32) -> i32 { a - b }",
					"#[cfg(test)]",
					"mod tests {",
					"    #[test] fn adds() { assert_eq!(super::add(2, 3), 5); }",
					"    #[test] fn adds_zero() { assert_eq!(super::add(2, 0), 3); }",
					"}",
					"",
				].join("\n"),
				".gitignore": "target/\n",
			},
		});
		// The sandbox's HOME hides the toolchain: point rustup at the real one, keep cargo's own files in the sandbox.
		fx.env.RUSTUP_HOME = process.env.RUSTUP_HOME ?? join(homedir(), ".rustup");
		fx.env.CARGO_HOME = join(fx.root, "cargo-home");
		await expectStagnation(fx, "cargo test --offline");
		const tails = (readLoopState(fx).checks as CheckRecord[]).map((c) => c.tail);
		expect(tails.every((t) => /thread 'tests::adds' \(\d+\) panicked/.test(t))).toBe(true);
	});
});

/** A node project whose `npm test` is vitest, with no test files at all. */
function noTestsFixture(): Fixture {
	const fx = makeFixture({
		files: {
			"package.json": JSON.stringify({ name: "n", private: true, scripts: { test: "vitest run" } }),
			"src/a.js": "export const a = 1;\n",
			".gitignore": "node_modules/\n",
		},
	});
	linkBin(fx, "vitest", "vitest/vitest.mjs");
	execFileSync("git", ["add", "-A"], { cwd: fx.project, env: fx.env });
	return fx;
}

describe("no tests is not a failure to fix", () => {
	it("on-done gates show 'tests: none found' and send no fix round", async () => {
		const fx = noTestsFixture();
		setScript(fx, { steps: [{ write: { path: "src/b.js", content: "export const b = 2;\n" } }, { text: "done" }] });
		const result = await runPrint(fx, "add b");
		expect(result.code, result.stderr).toBe(0);
		expect(result.stderr).toContain("gates: ○ tests: none found");
		expect(requests(fx)).toHaveLength(2);
		expect(JSON.stringify(requests(fx))).not.toContain("[gates] The project's checks failed");
	});

	it("/loop tests says so in the prompt and the report, and its identity is no-tests", async () => {
		const fx = noTestsFixture();
		doNothing(fx);
		const result = await runPrint(fx, "/loop tests --max 1");
		expect(result.code).toBe(1);
		const check = events(fx).find((e) => e.type === "check");
		expect(check).toMatchObject({ identity: "no-tests", noTests: "vitest: no test files found" });
		const prompt = requests(fx)[0]?.messages.find((m) => m.role === "user")?.text ?? "";
		expect(prompt).toContain("## No tests found");
		expect(prompt).toContain("no tests found — vitest: no test files found");
		const state = readLoopState(fx);
		const report = readFileSync(join(fx.project, ".pi", "loop", "runs", state.runId, "report.md"), "utf8");
		expect(report).toContain("(no tests)");
	});
});
