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
		expect(key).toBe(identifyCheck(2, `\n${text}\n`).key);
	});
	it("is not 'no tests' when something else in the output failed", () => {
		const workspaces = [
			"> a@1.0.0 test",
			'> echo "Error: no test specified" && exit 1',
			"Error: no test specified",
			"npm error Lifecycle script `test` failed with error:",
			"npm error workspace a@1.0.0",
			"> b@1.0.0 test",
			"> node test.js",
			"AssertionError [ERR_ASSERTION]: 1 == 2",
			"npm error workspace b@1.0.0",
		].join("\n");
		expect(identifyCheck(1, workspaces).identity.kind).toBe("output");
		const crashed = "Segmentation fault (core dumped)\n======== no tests ran in 0.01s ========";
		expect(identifyCheck(139, crashed).identity.kind).toBe("output");
	});
	it("names the file or package of each failure, so equal test names in two places stay two failures", () => {
		const tap = (files: string[]) =>
			[
				"TAP version 13",
				...files.flatMap((f, i) => [`not ok ${i + 1} - works`, "  ---", `  location: '/work/app/${f}:3:1'`, "  ..."]),
				`1..${files.length}`,
			].join("\n");
		const both = identifyCheck(1, tap(["test/a.test.js", "test/b.test.js"]), "/work/app");
		expect(both.count).toBe(2);
		expect(both.key).not.toBe(identifyCheck(1, tap(["test/a.test.js"]), "/work/app").key);
		expect(parseFailures(tap(["test/a.test.js"]).replaceAll("/work/app/", "")).ids).toEqual([
			"tap: test/a.test.js › works",
		]);
		const go = "--- FAIL: TestX (0.00s)\nFAIL\tex.com/a\t0.01s\n--- FAIL: TestX (0.00s)\nFAIL\tex.com/b\t0.01s\nFAIL";
		expect(parseFailures(go).ids).toEqual(["go-test: ex.com/a › TestX", "go-test: ex.com/b › TestX"]);
		const cargo = [
			"     Running unittests src/lib.rs (target/debug/deps/a-1)",
			"test tests::x ... FAILED",
			"     Running tests/api.rs (target/debug/deps/api-2)",
			"test tests::x ... FAILED",
			"test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
		].join("\n");
		expect(parseFailures(cargo).ids).toEqual([
			"cargo-test: src/lib.rs › tests::x",
			"cargo-test: tests/api.rs › tests::x",
		]);
	});
	it("reads paths below the check's directory as relative ones, and keeps what lies below a temp directory", () => {
		const eslint = (file: string) =>
			`${file}\n  1:7  error  'x' is assigned a value but never used  no-unused-vars\n\n` +
			"✖ 1 problem (1 error, 0 warnings)";
		expect(parseFailures(eslint("src/a.js")).ids).toEqual([
			"eslint: src/a.js: no-unused-vars 'x' is assigned a value but never used",
		]);
		expect(identifyCheck(1, eslint("/work/app/src/a.js"), "/work/app").key).toBe(
			identifyCheck(1, eslint("src/a.js")).key,
		);
		const inTmp = (file: string) => identifyCheck(1, eslint(`/tmp/ci-x81/app/${file}`)).key;
		expect(inTmp("src/a.js")).not.toBe(inTmp("src/b.js"));
	});
	it("reads pytest -q, whose closing line has no '=' around it", () => {
		const quiet = "F.\nFAILED t.py::test_a - assert 1 == 2\n1 failed, 1 passed in 0.05s";
		expect(parseFailures(quiet).ids).toEqual(["pytest: FAILED t.py::test_a — assert 1 == 2"]);
	});
	it("takes the compared values into a generic assertion's message, so a changed value is a changed failure", () => {
		const jest = (received: number) =>
			[
				"FAIL test/a.test.js",
				"  ● adds",
				"",
				"    expect(received).toBe(expected) // Object.is equality",
				"",
				"    Expected: 5",
				`    Received: ${received}`,
				"",
				"Tests:       1 failed, 1 total",
			].join("\n");
		expect(parseFailures(jest(4)).ids).toEqual([
			"jest: test/a.test.js › adds — expect(received).toBe(expected) // Object.is equality Expected: 5 Received: 4",
		]);
		expect(identifyCheck(1, jest(4)).key).not.toBe(identifyCheck(1, jest(6)).key);
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
		it.runIf(variants.includes("none"))("knows when there were no tests (a pass when the runner exits 0)", () => {
			const meta = JSON.parse(readFileSync(join(CORPUS, dir, "meta.json"), "utf8")) as CorpusMeta;
			const passes = meta.variants.none?.exitCode === 0;
			expect(run(dir, "none")?.identity.kind).toBe(passes ? "passed" : "no-tests");
		});
	});
});
