/** Unit tests: /loop argument tokenizing, parsing and validation. */
import { describe, expect, it } from "vitest";
import { parseDuration, parseLoopArgs, tokenize, UsageError } from "../../extensions/loop/args.ts";
import { DEFAULT_OPTIONS } from "../../extensions/loop/types.ts";

describe("tokenize", () => {
	it("splits like a shell", () => {
		expect(tokenize(`until "npm test -- --run" --max 5`)).toEqual(["until", "npm test -- --run", "--max", "5"]);
		expect(tokenize(`until 'echo "hi"' x\\ y`)).toEqual(["until", 'echo "hi"', "x y"]);
		expect(tokenize(`a "" b`)).toEqual(["a", "", "b"]);
		expect(tokenize(`"say \\"hi\\""`)).toEqual(['say "hi"']);
	});
	it("rejects unterminated quotes", () => {
		expect(() => tokenize(`until "npm test`)).toThrow(/unterminated " quote/);
	});
});

describe("parseDuration", () => {
	it.each([
		["500ms", 500],
		["30s", 30_000],
		["5m", 300_000],
		["1h30m", 5_400_000],
		["90", 90_000],
		["1.5s", 1500],
	])("%s → %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));
	it.each(["soon", "5 minutes", "0s", "-1s", "5mx", ""])("rejects %j", (text) => {
		expect(() => parseDuration(text, "--timeout")).toThrow(UsageError);
	});
});

describe("parseLoopArgs", () => {
	it("parses until with flags and a goal", () => {
		expect(
			parseLoopArgs(`until "npm test" --max 5 --stagnation=2 --timeout 10m --promise DONE -- fix the parser`),
		).toEqual({
			kind: "start",
			preset: "until",
			check: "npm test",
			goal: "fix the parser",
			options: { ...DEFAULT_OPTIONS, max: 5, stagnation: 2, timeoutMs: 600_000, promise: "DONE" },
		});
	});
	it("keeps the goal after -- verbatim, quotes and apostrophes included", () => {
		const r = parseLoopArgs(`tests --max 2 -- don't change the "public"  API -- ever`);
		expect(r).toMatchObject({ kind: "start", goal: `don't change the "public"  API -- ever`, options: { max: 2 } });
		expect(parseLoopArgs(`until "a -- b" -- goal`)).toMatchObject({ check: "a -- b", goal: "goal" });
		expect(parseLoopArgs("tests --")).toMatchObject({ goal: undefined });
		expect(() => parseLoopArgs("status -- x")).toThrow(/takes no goal/);
	});
	it("applies safe defaults: bounded iterations, check timeout", () => {
		const r = parseLoopArgs("tests");
		expect(r).toEqual({ kind: "start", preset: "tests", goal: undefined, options: DEFAULT_OPTIONS });
		expect(DEFAULT_OPTIONS.max).toBe(10);
		expect(DEFAULT_OPTIONS.checkTimeoutMs).toBeGreaterThan(0);
	});
	it("parses control subcommands", () => {
		expect(parseLoopArgs("status")).toEqual({ kind: "status" });
		expect(parseLoopArgs(" stop ")).toEqual({ kind: "stop" });
		expect(parseLoopArgs("report")).toEqual({ kind: "report" });
		expect(parseLoopArgs("report 2026-abc")).toEqual({ kind: "report", runId: "2026-abc" });
	});
	it.each([
		["", /missing subcommand/],
		["dance", /unknown subcommand "dance"/],
		["until", /needs a check command/],
		["until npm test", /takes one command; quote it.*"npm test"/],
		['until "  "', /check command is empty/],
		["tests npm", /takes no command/],
		["until x --max", /--max needs a value/],
		["until x --max 3 --max 4", /--max given twice/],
		["until x --max 1001", /between 1 and 1000/],
		["until x --same-failure 1", /--same-failure must be between 2 and 100/],
		["until x --promise <b>", /may not contain < or >/],
		["until x --nope 1", /unknown flag --nope for \/loop until/],
		["status now", /takes no arguments/],
		["report a b", /at most one run id/],
	])("rejects %j", (input, message) => {
		expect(() => parseLoopArgs(input)).toThrow(message);
	});
	it("parses /loop run: a blueprint, its flags, and script arguments after --", () => {
		expect(parseLoopArgs("run")).toMatchObject({ kind: "run", file: undefined, args: [] });
		const r = parseLoopArgs('run lint-fixer --max-spawns 5 --max-cost $2.50 --concurrency 2 -- src "a b"');
		expect(r).toMatchObject({ kind: "run", file: "lint-fixer", args: ["src", "a b"] });
		expect(r.kind === "run" && r.options).toMatchObject({ maxSpawns: 5, maxCost: 2.5, concurrency: 2 });
		expect(() => parseLoopArgs("run a.ts b.ts")).toThrow(/script arguments go after --/);
		expect(() => parseLoopArgs("run a.ts --max 3")).toThrow(/unknown flag --max for \/loop run/);
		expect(() => parseLoopArgs("run a.ts --max-cost free")).toThrow(/--max-cost expects an amount in dollars/);
		expect(() => parseLoopArgs("run -- x")).toThrow(/name the blueprint/);
		expect(() => parseLoopArgs("tests --max-spawns 3")).toThrow(/unknown flag --max-spawns/);
	});
	it("parses /loop issues and /loop issue <n> into an intake request; a bad flag is a usage error", () => {
		expect(parseLoopArgs("issues --limit 3 --parallel 2 --review")).toMatchObject({
			kind: "intake",
			one: false,
			args: ["--limit", "3", "--parallel", "2", "--review"],
			options: { limit: 3, parallel: 2, review: true, label: "loop" },
		});
		expect(parseLoopArgs("issue 12 --max 4")).toMatchObject({
			kind: "intake",
			one: true,
			options: { issue: 12, max: 4 },
		});
		expect(() => parseLoopArgs("issues --limit 0")).toThrow(UsageError);
		expect(() => parseLoopArgs("issue")).toThrow("/loop issue needs an issue number");
		expect(() => parseLoopArgs("issues -- goal")).toThrow("/loop issues takes no goal");
	});

	it("parses /loop worktrees [prune]", () => {
		expect(parseLoopArgs("worktrees")).toEqual({ kind: "worktrees", prune: false });
		expect(parseLoopArgs("worktrees prune")).toEqual({ kind: "worktrees", prune: true });
		expect(() => parseLoopArgs("worktrees clean")).toThrow(/takes nothing or "prune"/);
	});
});
