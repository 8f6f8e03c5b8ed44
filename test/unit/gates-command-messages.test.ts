/**
 * Unit tests: command gates ({files}, quoting, globs, outcomes; command-gate.ts)
 * and the gates' texts (messages.ts).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expandFiles, filesFor, runCommandGate } from "../../extensions/gates/command-gate.ts";
import {
	fixRoundMessage,
	type GateResult,
	gatesReport,
	needsFix,
	resultKey,
	resultMarks,
	statusLine,
	stopMessage,
	turnEndMessage,
} from "../../extensions/gates/messages.ts";
import type { Gate, GatePlan } from "../../extensions/gates/plan.ts";
import { shellQuote } from "../../extensions/shared/shell-quote.ts";

const gate = (fields: Partial<Gate> & Pick<Gate, "name">): Gate => ({
	kind: "onDone",
	timeout: 30,
	origin: "config",
	source: "config",
	...fields,
});
const result = (fields: Partial<GateResult> & Pick<GateResult, "gate" | "status">): GateResult => ({
	kind: "onDone",
	at: 0,
	...fields,
});
const plan = (gates: Gate[], fields: Partial<GatePlan> = {}): GatePlan => ({
	enabled: true,
	rounds: 2,
	protectedPaths: [".git/"],
	gates,
	...fields,
});

describe("shellQuote / expandFiles", () => {
	it("leaves plain paths alone and single-quotes the rest", () => {
		expect(shellQuote("src/a-b_c.ts")).toBe("src/a-b_c.ts");
		expect(shellQuote("@scope/pkg=1,2:3%+")).toBe("@scope/pkg=1,2:3%+");
		expect(shellQuote("my file.ts")).toBe("'my file.ts'");
		expect(shellQuote("it's.ts")).toBe("'it'\\''s.ts'");
		expect(shellQuote("$(rm -rf ~).ts")).toBe("'$(rm -rf ~).ts'");
		expect(shellQuote("")).toBe("''");
	});
	it("replaces every {files} with the quoted list", () => {
		expect(expandFiles("fmt --write {files}", ["a.ts", "b c.ts"])).toBe("fmt --write a.ts 'b c.ts'");
		expect(expandFiles("a {files} && b {files}", ["x.ts"])).toBe("a x.ts && b x.ts");
		expect(expandFiles("npm test", ["x.ts"])).toBe("npm test");
		expect(expandFiles("fmt {files}", [])).toBe("fmt ");
	});
});

describe("filesFor", () => {
	const files = [
		"a.ts",
		"src/b.ts",
		"src/deep/c.ts",
		"README.md",
		"docs/guide.md",
		".github/x.md",
		"src/.hidden.ts",
		"config/.env.local",
	];
	it("every file when the gate has no glob", () => {
		expect(filesFor(gate({ name: "x" }), files)).toEqual(files);
	});
	it("a glob without a slash matches the basename anywhere, dotfiles included", () => {
		expect(filesFor(gate({ name: "x", glob: "*.ts" }), files)).toEqual([
			"a.ts",
			"src/b.ts",
			"src/deep/c.ts",
			"src/.hidden.ts",
		]);
		expect(filesFor(gate({ name: "x", glob: "*.md" }), files)).toEqual(["README.md", "docs/guide.md", ".github/x.md"]);
		expect(filesFor(gate({ name: "x", glob: ".env*" }), files)).toEqual(["config/.env.local"]);
	});
	it("a glob with a slash is matched against the whole path", () => {
		expect(filesFor(gate({ name: "x", glob: "src/*.ts" }), files)).toEqual(["src/b.ts", "src/.hidden.ts"]);
		expect(filesFor(gate({ name: "x", glob: "**/*.{ts,md}" }), files)).toEqual(
			files.filter((f) => f !== "config/.env.local"),
		);
	});
});

describe("runCommandGate", () => {
	const cwd = mkdtempSync(join(tmpdir(), "pi-loop-gates-command-"));
	it("an unavailable gate does not run", async () => {
		expect(
			await runCommandGate(gate({ name: "x", command: "exit 1", unavailable: "x is not installed" }), cwd),
		).toEqual({
			status: "unavailable",
			reason: "x is not installed",
			durationMs: 0,
			cannotRun: true,
		});
	});
	it("a command that is not there cannot run (exit 127) — not a failure to fix", async () => {
		const outcome = await runCommandGate(gate({ name: "x", command: "definitely-not-a-command-xyz" }), cwd);
		expect(outcome).toMatchObject({ status: "unavailable", cannotRun: true });
		expect(outcome.status === "unavailable" && outcome.reason).toMatch(
			/^command not found or not executable \(exit 127\): .*definitely-not-a-command-xyz/,
		);
	});
	it("passes on exit 0, fails with the exit code and output otherwise", async () => {
		expect((await runCommandGate(gate({ name: "x", command: "true" }), cwd)).status).toBe("passed");
		const failed = await runCommandGate(
			gate({ name: "x", command: "printf '%s|' {files}; printf '\\033[31mred\\033[0m'; exit 3" }),
			cwd,
			["a b.ts", "c.ts"],
		);
		expect(failed).toMatchObject({ status: "failed", exitCode: 3, output: "a b.ts|c.ts|red" });
	});
	it("a runner that found no tests is its own outcome, in the runner's words", async () => {
		const outcome = await runCommandGate(
			gate({ name: "tests", command: "echo '===== no tests ran in 0.01s ====='; exit 5" }),
			cwd,
		);
		expect(outcome).toMatchObject({ status: "no-tests", reason: "pytest: no tests ran" });
		const mixed =
			"echo 'a.ts(1,1): error TS2304: Cannot find name x.'; echo 'No test files found, exiting with code 1'; exit 1";
		expect((await runCommandGate(gate({ name: "tests", command: mixed }), cwd)).status).toBe("failed");
	});
	it("a timeout makes the gate unavailable, naming the limit", async () => {
		const outcome = await runCommandGate(gate({ name: "x", command: "sleep 5", timeout: 0.2 }), cwd);
		expect(outcome).toMatchObject({ status: "unavailable", reason: "timed out after 0.2s" });
	});
});

describe("statusLine", () => {
	const gates = [gate({ name: "typescript", kind: "onWrite" }), gate({ name: "lint" }), gate({ name: "tests" })];
	it("marks each gate's latest result in plan order, leaving out gates not run yet", () => {
		const results = new Map([
			[resultKey(gates[2] as Gate), result({ gate: "tests", status: "failed" })],
			[resultKey(gates[0] as Gate), result({ gate: "typescript", kind: "onWrite", status: "passed" })],
		]);
		expect(statusLine(plan(gates), results, false)).toBe("✓ typescript ✗ tests");
		results.set(resultKey(gates[1] as Gate), result({ gate: "lint", status: "unavailable" }));
		expect(statusLine(plan(gates), results, false)).toBe("✓ typescript ? lint ✗ tests");
	});
	it("results are keyed by kind and name", () => {
		expect(resultKey({ kind: "onDone", name: "tests" })).toBe("onDone:tests");
		const results = new Map([["onTurnEnd:tests", result({ gate: "tests", status: "passed" })]]);
		expect(statusLine(plan(gates), results, false)).toBeUndefined();
	});
	it("nothing before any gate ran; off and config errors say so", () => {
		expect(statusLine(plan(gates), new Map(), false)).toBeUndefined();
		expect(statusLine(plan(gates), new Map(), true)).toBe("gates off");
		expect(statusLine(plan(gates, { enabled: false }), new Map(), false)).toBe("gates off");
		expect(statusLine(plan([], { enabled: false, configError: "bad" }), new Map(), false)).toBe("gates: config error");
	});
});

describe("fix round, stop and turn-end messages", () => {
	const failures = [
		result({
			gate: "tests",
			status: "failed",
			exitCode: 1,
			command: "npm test",
			detail: "\nFAIL a.test.ts\nexpected 1 to be 2\n",
		}),
		result({ gate: "lint", status: "unavailable", detail: "timed out after 600s" }),
	];
	it("a fix round names its number, each failure with its command and output tail, and what to do", () => {
		expect(fixRoundMessage(failures, 1, 2)).toBe(
			[
				"[gates] The project's checks failed after your changes (fix round 1 of 2):",
				"",
				"✗ tests (exit 1): npm test",
				"FAIL a.test.ts",
				"expected 1 to be 2",
				"",
				"✗ lint: could not run (timed out after 600s)",
				"",
				"Fix the cause, then finish. The checks run again when you are done.",
			].join("\n"),
		);
	});
	it("'no tests' and a missing command are shown, never sent to fix; failures and timeouts are", () => {
		const none = result({ gate: "tests", status: "no-tests", detail: "pytest: no tests ran" });
		const missing = result({ gate: "lint", status: "unavailable", detail: "command not found", cannotRun: true });
		expect([none, missing, ...failures].map(needsFix)).toEqual([false, false, true, true]);
		expect(resultMarks([none, missing, ...failures])).toBe("○ tests: none found ? lint ✗ tests ✗ lint");
	});
	it("a failure's output is cut to its last 40 lines", () => {
		const detail = Array.from({ length: 50 }, (_, i) => `out ${i + 1}`).join("\n");
		const text = fixRoundMessage([result({ gate: "tests", status: "failed", exitCode: 1, detail })], 2, 2);
		expect(text).toContain("fix round 2 of 2");
		expect(text).toContain("… 10 earlier lines\nout 11\n");
		expect(text).not.toContain("out 10\n");
		expect(text).toContain("out 50");
	});
	it("the stop message depends on the rounds", () => {
		expect(stopMessage(failures, 0)).toBe(
			"gates: still failing (fix rounds are off: gates.rounds = 0): tests, lint. " +
				"Stopped; the failures are yours to look at (/gates for details).",
		);
		expect(stopMessage(failures, 2)).toBe(
			"gates: still failing after 2 fix rounds: tests, lint. " +
				"Stopped; the failures are yours to look at (/gates for details).",
		);
		expect(stopMessage(failures.slice(0, 1), 1)).toMatch(/^gates: still failing after 1 fix round: tests\. /);
	});
	it("the turn-end steer lists the failures", () => {
		expect(turnEndMessage(failures.slice(0, 1))).toBe(
			"[gates] After your last changes these checks fail:\n\n" +
				"✗ tests (exit 1): npm test\nFAIL a.test.ts\nexpected 1 to be 2",
		);
	});
});

describe("gatesReport", () => {
	it("lists each kind with origin, timeout and last result", () => {
		const gates = [
			gate({
				name: "typescript",
				kind: "onWrite",
				languageServer: "typescript",
				glob: "**/*.ts",
				timeout: 15,
				origin: "detected",
				source: "tsconfig.json",
			}),
			gate({ name: "tests", command: "npm test", timeout: 600 }),
			gate({ name: "fmt", kind: "onWrite", command: "fmt {files}", unavailable: "fmt is not installed" }),
		];
		const results = new Map([[resultKey(gates[1] as Gate), result({ gate: "tests", status: "failed", exitCode: 2 })]]);
		const lines = gatesReport(plan(gates), results, false).split("\n");
		expect(lines[0]).toBe("gates: on · fix rounds on done: 2");
		expect(lines).toContain(
			"  typescript: language server (typescript) on **/*.ts, timeout 15s (detected: tsconfig.json)",
		);
		expect(lines).toContain("    not run yet");
		expect(lines).toContain("  fmt: `fmt {files}`, timeout 30s (config)");
		expect(lines).toContain("    unavailable: fmt is not installed");
		expect(lines).toContain("onTurnEnd: none");
		expect(lines).toContain("  tests: `npm test`, timeout 600s (config)");
		expect(lines.find((l) => l.startsWith("    ✗ failed at "))).toMatch(/\(exit 2\)$/);
		expect(lines.at(-1)).toBe("protected paths: .git/ (and anything outside the project)");
	});
	it("says why gates are off", () => {
		expect(gatesReport(plan([], { configError: "loop.json: bad" }), new Map(), false)).toBe(
			"gates are off: the config has an error — loop.json: bad",
		);
		expect(gatesReport(plan([], { enabled: false, protectedPaths: [] }), new Map(), false)).toMatch(
			/^gates: off \(config "gates\.enabled": false\)[\s\S]*protected paths: none/,
		);
		expect(gatesReport(plan([]), new Map(), true)).toMatch(/^gates: off for this pi session \(\/gates on\)/);
	});
});
