/**
 * Unit tests: failure identity — parsed failure ids per runner, "no tests",
 * the denoised-text fallback and printed counts; and the corpus of real
 * runner output in test/fixtures/failure-corpus (two runs of the same
 * failure must be equal, a fixed, partial or different failure must not).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { identifyCheck, noTestsFound, parseFailures } from "../../extensions/core/failure-identity.ts";
import { REPO_ROOT } from "../support/harness.ts";

describe("failure identity", () => {
	it("is 'passed' for exit 0, whatever was printed", () => {
		expect(identifyCheck(0, "3 failed")).toMatchObject({ identity: { kind: "passed" }, count: 0 });
		expect(identifyCheck(0, "").key).toBe(identifyCheck(0, "noise 12ms").key);
	});
	it("falls back to the denoised output and the printed count when no runner is recognized", () => {
		const a = identifyCheck(1, "2 failed at 2026-11-21T08:00:01Z after 12ms");
		const b = identifyCheck(1, "2 failed at 2026-11-30T10:00:00Z after 300ms");
		expect(a.identity.kind).toBe("output");
		expect(a.key).toBe(b.key);
		expect(a.count).toBe(2);
		expect(identifyCheck(1, "1 failed").key).not.toBe(a.key);
		expect(identifyCheck(2, "2 failed at x").key).not.toBe(identifyCheck(1, "2 failed at x").key);
		expect(identifyCheck(139, "Segmentation fault").count).toBeUndefined();
	});
	it.each([
		["Tests  3 failed | 10 passed (13)", 3],
		["test result: FAILED. 5 passed; 2 failed; 0 ignored", 2],
		["==== 4 failed, 12 passed in 0.31s ====", 4],
		["src/a.ts(3,1): error TS2304\nFound 7 errors in 2 files.", 7],
		["✖ 12 problems (12 errors, 0 warnings)", 12],
		["  3 passing\n  2 failing", 2],
		["# pass 4\n# fail 1", 1],
		["--- FAIL: TestA (0.00s)\n--- FAIL: TestB (0.00s)\nFAIL", 2],
	])("counts the failures in %j", (text, count) => {
		expect(identifyCheck(1, text).count).toBe(count);
	});
	it("reads tsc in both output styles, without line numbers", () => {
		const plain = "src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.";
		const pretty = "src/a.ts:9:1 - error TS2322: Type 'string' is not assignable to type 'number'.";
		expect(parseFailures(plain).ids).toEqual(parseFailures(pretty).ids);
		expect(parseFailures(plain).ids).toEqual([
			"tsc: src/a.ts: TS2322 Type 'string' is not assignable to type 'number'.",
		]);
	});
	it("keeps repeated diagnostics, so one of two equal errors going away is progress", () => {
		const one = "a.ts(1,1): error TS2304: Cannot find name 'x'.";
		const two = `${one}\na.ts(5,1): error TS2304: Cannot find name 'x'.`;
		expect(identifyCheck(2, two).count).toBe(2);
		expect(identifyCheck(2, one).key).not.toBe(identifyCheck(2, two).key);
	});
	it("reads nextest and both ruff formats", () => {
		const nextest = [
			"        FAIL [   0.004s] demo tests::add",
			"     Summary [   0.011s] 3 tests run: 2 passed, 1 failed, 0 skipped",
			"        FAIL [   0.004s] demo tests::add",
		].join("\n");
		expect(parseFailures(nextest).ids).toEqual(["nextest: demo tests::add"]);
		const concise = "a.py:1:8: F401 [*] `os` imported but unused\nFound 1 error.";
		const full = "F401 [*] `os` imported but unused\n --> a.py:1:8\n  |\nFound 1 error.";
		expect(parseFailures(concise).ids).toEqual(["ruff: a.py: F401 `os` imported but unused"]);
		expect(parseFailures(full).ids).toEqual(parseFailures(concise).ids);
	});
	it("skips TAP todo items and names unnamed ones", () => {
		const text = "TAP version 13\nnot ok 1 - works # TODO later\nnot ok 2\nok 3 - fine\n1..3";
		expect(parseFailures(text).ids).toEqual(["tap: (unnamed)"]);
	});
	it.each([
		["=========== no tests ran in 0.01s ===========", "pytest"],
		["No tests found, exiting with code 1\nRun with `--passWithNoTests` to exit with code 0", "jest"],
		["No test files found, exiting with code 1", "vitest"],
		['Error: No test files found: "test"', "mocha"],
		['> x@1.0.0 test\n> echo "Error: no test specified" && exit 1\n\nError: no test specified', "npm"],
		['npm error Missing script: "test"', "npm"],
	])("recognizes 'no tests' in %j", (text, who) => {
		expect(noTestsFound(text)).toMatch(new RegExp(`^${who}:`));
		const { identity, key, count } = identifyCheck(1, text);
		expect(identity.kind).toBe("no-tests");
		expect(count).toBe(0);
		expect(key).toBe(identifyCheck(5, "===== no tests ran in 3.2s =====").key);
	});
	it("prefers real failures over a 'no tests' line elsewhere in the output", () => {
		const text = "src/a.ts(1,1): error TS2304: Cannot find name 'x'.\nNo test files found, exiting with code 1";
		expect(identifyCheck(1, text).identity.kind).toBe("failures");
	});
});

/** The corpus: real output of each runner, recorded by test/fixtures/failure-corpus/record.sh. */
interface CorpusMeta {
	runner: string;
	command: string;
	variants: Record<string, { exitCode: number }>;
}

const CORPUS = join(REPO_ROOT, "test", "fixtures", "failure-corpus");
const corpus = existsSync(CORPUS)
	? readdirSync(CORPUS, { withFileTypes: true })
			.filter((d) => d.isDirectory() && existsSync(join(CORPUS, d.name, "meta.json")))
			.map((d) => d.name)
			.sort()
	: [];

function run(dir: string, variant: string) {
	const meta = JSON.parse(readFileSync(join(CORPUS, dir, "meta.json"), "utf8")) as CorpusMeta;
	const exit = meta.variants[variant]?.exitCode;
	if (exit === undefined) return undefined;
	return identifyCheck(exit, readFileSync(join(CORPUS, dir, `${variant}.txt`), "utf8"));
}

describe("failure identity on real runner output", () => {
	it("has a corpus", () => {
		expect(corpus.length).toBeGreaterThanOrEqual(10);
	});
	describe.each(corpus)("%s", (dir) => {
		const variants = Object.keys(
			(JSON.parse(readFileSync(join(CORPUS, dir, "meta.json"), "utf8")) as CorpusMeta).variants,
		);
		it("parses the failures of a failing run", () => {
			const first = run(dir, "fail-1");
			expect(first?.identity.kind).toBe("failures");
			expect(first?.count).toBeGreaterThanOrEqual(2);
		});
		// fail-2: the same run again; fail-color: with colour forced; fail-backtrace: with RUST_BACKTRACE=1.
		it.each(variants.filter((v) => v.startsWith("fail-") && v !== "fail-1"))("gives %s the identity of fail-1", (v) => {
			expect(run(dir, v)?.key).toBe(run(dir, "fail-1")?.key);
		});
		it.runIf(variants.includes("crash"))("tells a crash (a test file that does not load) from the failures", () => {
			const crash = run(dir, "crash");
			expect(crash?.key).not.toBe(run(dir, "fail-1")?.key);
			expect(crash?.key).not.toBe(run(dir, "fixed")?.key);
		});
		it.runIf(variants.includes("partial"))("sees a failure fixed as a change, with fewer failures", () => {
			const first = run(dir, "fail-1");
			const partial = run(dir, "partial");
			expect(partial?.key).not.toBe(first?.key);
			expect(partial?.count).toBeLessThan(first?.count ?? 0);
			expect(partial?.count).toBeGreaterThan(0);
		});
		it.runIf(variants.includes("other"))("tells a different failure apart", () => {
			const other = run(dir, "other");
			expect(other?.identity.kind).toBe("failures");
			expect(other?.key).not.toBe(run(dir, "fail-1")?.key);
		});
		it.runIf(variants.includes("fixed"))("passes when fixed", () => {
			expect(run(dir, "fixed")?.identity.kind).toBe("passed");
		});
		it.runIf(variants.includes("none"))("knows when there were no tests", () => {
			const none = run(dir, "none");
			expect(["no-tests", "passed"]).toContain(none?.identity.kind);
		});
	});
});
