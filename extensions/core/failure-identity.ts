/**
 * Failure identity: what failed in a check run, read from the output of the
 * common test runners and diagnostic tools (node --test, TAP, vitest, jest,
 * mocha, pytest, cargo test, nextest, go test, tsc, eslint, biome, ruff,
 * mypy, rustc/clippy) as a sorted list of stable ids — the test or the file
 * and rule, plus the first error line, with timings, ids and line numbers
 * left out. Two runs fail the same way when their ids are equal; output no
 * parser recognizes falls back to its denoised text. "No tests found" is an
 * outcome of its own, never a failure to fix. Pure functions.
 */
import { createHash } from "node:crypto";
import { normalizeOutput, stripAnsi } from "./check-output.ts";

export type FailureIdentity =
	| { kind: "passed" }
	/** The runner found no tests to run (pytest exit 5, jest/vitest/mocha "no test files", npm's placeholder). */
	| { kind: "no-tests"; detail: string }
	/** Failures parsed from the output: sorted ids (repeats kept, so one of two equal errors going away counts). */
	| { kind: "failures"; runners: string[]; ids: string[] }
	/** Nothing recognizable: the denoised output decides. */
	| { kind: "output" };

export interface IdentifiedCheck {
	identity: FailureIdentity;
	/** Equal keys = the same failure (or both passing). */
	key: string;
	/** How many failures: parsed ids, else a count the tool printed; 0 when passing. */
	count?: number;
}

/** One runner's reading of the output: the failures it found (empty when it ran and nothing failed). */
interface Parser {
	runner: string;
	/** Only output that carries the runner's own marks is read by it. */
	signature: RegExp;
	parse(lines: string[]): string[];
}

const MAX_ID = 240;

/** Run-to-run noise inside one id: durations, temp paths, addresses, thread ids; whitespace folded. */
function cleanId(text: string): string {
	const flat = normalizeOutput(text)
		.replace(/\s*\(\d+(\.\d+)?\s?(ms|s)\)\s*$/, "")
		.replace(/\s+/g, " ")
		.trim();
	return flat.length > MAX_ID ? flat.slice(0, MAX_ID) : flat;
}

function nextNonEmpty(lines: string[], from: number, skip?: RegExp): string {
	for (let i = from; i < lines.length && i < from + 12; i++) {
		const line = (lines[i] as string).trim();
		if (line !== "" && !skip?.test(line)) return line;
	}
	return "";
}

/** Lines that carry an assertion's values: jest's Expected/Received, Rust's left/right, node's `3 !== 5`. */
const VALUES = /^\s*(Expected|Received|left|right):|^\s*\S+ !==? \S+$/;

/**
 * A failure's message: its first line, plus the lines with the compared values where the first line is generic
 * ("expect(received).toBe(expected)", "assertion `left == right` failed"), so a changed value is a changed failure.
 */
function messageAt(lines: string[], from: number): string {
	const first = nextNonEmpty(lines, from);
	if (first === "") return "";
	const start = lines.findIndex((l, i) => i >= from && l.trim() === first);
	const values: string[] = [];
	for (const line of lines.slice(start + 1, start + 10)) {
		if (VALUES.test(line)) values.push(line.trim());
		else if (line.trim() !== "") break; // the values end where other text begins
	}
	return [first, ...values].join(" ");
}

function withMessage(name: string, message: string): string {
	return message ? `${name} — ${message}` : name;
}

/** Collects matches of one line pattern through `make`, in order. */
function eachLine(
	lines: string[],
	pattern: RegExp,
	make: (m: RegExpMatchArray, i: number) => string | undefined,
): string[] {
	const ids: string[] = [];
	lines.forEach((line, i) => {
		const m = line.match(pattern);
		const id = m ? make(m, i) : undefined;
		if (id) ids.push(id);
	});
	return ids;
}

const SPEC_FAILURE = /^\s*✖ (.+?)(?: \(\d+(?:\.\d+)?m?s\))?$/;

const nodeSpec: Parser = {
	runner: "node-test",
	signature: /^ℹ (tests|fail) \d+$/m,
	// The closing list names each failure's file (`test at test/a.test.js:5:1` above `✖ name (1.2ms)`); without
	// that list, the `✖` lines of the run itself.
	parse(lines) {
		const list = lines.findIndex((l) => /^✖ failing tests:$/.test(l));
		if (list === -1) return eachLine(lines, SPEC_FAILURE, (m) => m[1]);
		let file = "";
		return eachLine(
			lines.slice(list + 1),
			/^(?:test at (.+?)(?::\d+:\d+)?|✖ (.+?)(?: \(\d+(?:\.\d+)?m?s\))?)$/,
			(m) => {
				if (m[1] !== undefined) file = m[1];
				return m[2] === undefined ? undefined : `${file} › ${m[2]}`;
			},
		);
	},
};

const tap: Parser = {
	runner: "tap",
	signature: /^\s*(TAP version \d+|1\.\.\d+|# (tests|fail) \d+)$/m,
	// node's TAP gives each result a YAML block with `location: '<file>:l:c'`; other producers may not.
	parse: (lines) =>
		eachLine(lines, /^\s*not ok \d+(?: -)? ?(.*)$/, (m, i) => {
			if (/#\s*todo\b/i.test(m[1] ?? "")) return undefined;
			const name = m[1] || "(unnamed)";
			const block = lines.slice(i + 1, i + 12).find((l) => /^\s*location: /.test(l));
			const file = block?.match(/^\s*location: '?(.+?)(?::\d+:\d+)?'?$/)?.[1];
			return file ? `${file} › ${name}` : name;
		}),
};

const vitest: Parser = {
	runner: "vitest",
	signature: /^\s*(Test Files|Tests)\s+\d+ (failed|passed)/m,
	parse: (lines) =>
		eachLine(lines, /^\s*FAIL\s{2}(.+?)\s*$/, (m, i) =>
			withMessage(m[1] as string, nextNonEmpty(lines, i + 1, /^FAIL\s{2}/)),
		),
};

const jest: Parser = {
	runner: "jest",
	signature: /^(Tests|Test Suites):\s+\d+/m,
	parse(lines) {
		let file = "";
		const ids: string[] = [];
		lines.forEach((line, i) => {
			const header = line.match(/^\s*FAIL\s+(\S.*?)\s*$/);
			if (header) file = header[1] as string;
			const block = line.match(/^\s*● (.+?)\s*$/);
			if (block) ids.push(withMessage(`${file} › ${block[1]}`, messageAt(lines, i + 1)));
		});
		return ids;
	},
};

const mocha: Parser = {
	runner: "mocha",
	signature: /^\s*\d+ (passing|failing|pending)\b/m,
	parse(lines) {
		const start = lines.findIndex((l) => /^\s*\d+ failing\s*$/.test(l));
		if (start === -1) return [];
		const ids: string[] = [];
		for (let i = start + 1; i < lines.length; i++) {
			const head = (lines[i] as string).match(/^\s{1,4}\d+\) (.+)$/);
			if (!head) continue;
			// The title runs over indented lines until one ends with ":".
			const parts = [head[1] as string];
			let j = i;
			while (!(parts.at(-1) as string).endsWith(":") && j + 1 < lines.length && j < i + 6)
				parts.push((lines[++j] as string).trim());
			const title = parts
				.map((p) => p.trim())
				.join(" › ")
				.replace(/:$/, "");
			ids.push(withMessage(title, messageAt(lines, j + 1)));
			i = j;
		}
		return ids;
	},
};

const pytest: Parser = {
	runner: "pytest",
	// The closing line, decorated with "=" (default) or bare (-q), or the short summary's header.
	signature: new RegExp(
		[
			String.raw`^=+ .*\b(passed|failed|errors?|no tests ran|skipped)\b.* in [\d.]+s`,
			String.raw`^\d+ (passed|failed|errors?)(, \d+ \w+)* in [\d.]+s`,
			"short test summary info",
		].join("|"),
		"m",
	),
	parse: (lines) =>
		eachLine(lines, /^(FAILED|ERROR) (\S+)(?: - (.*))?$/, (m) => withMessage(`${m[1]} ${m[2]}`, m[3] ?? "")),
};

const cargoTest: Parser = {
	runner: "cargo-test",
	signature: /^test result: (ok|FAILED)\./m,
	parse(lines) {
		// Panic messages by test: `thread 'name' (tid) panicked at file:l:c:` then the message.
		// Each test binary starts with `Running unittests src/lib.rs (target/…)`: the same test name in two crates or
		// test files stays two failures.
		const messages = new Map<string, string>();
		let target = "";
		const ids: string[] = [];
		lines.forEach((line, i) => {
			const running = line.match(/^\s*Running (?:unittests )?(\S+)/);
			if (running) target = running[1] as string;
			const m = line.match(/^thread '(.+?)'(?: \(\d+\))? panicked at (?:'(.*)', )?/);
			if (m) messages.set(`${target}\0${m[1]}`, m[2] ?? messageAt(lines, i + 1));
			const failed = line.match(/^test (\S+) \.\.\. FAILED$/);
			if (failed) ids.push(`${target}\0${failed[1]}`);
		});
		return ids.map((key) => withMessage(key.replace("\0", " › "), messages.get(key) ?? ""));
	},
};

const nextest: Parser = {
	runner: "nextest",
	signature: /^\s*Summary \[\s*[\d.]+s\] \d+ tests? run/m,
	parse: (lines) => eachLine(lines, /^\s*(?:TRY \d+ )?FAIL \[\s*[\d.]+s\] (.+?)\s*$/, (m) => m[1]),
};

const goTest: Parser = {
	runner: "go-test",
	signature: /^((FAIL|ok|\?)\s*\t\S+\t|\s*--- FAIL: )/m,
	parse(lines) {
		// A package's failing tests come before its `FAIL\t<package>\t0.01s` line: that line names them.
		const tests: string[] = [];
		let pending: string[] = [];
		lines.forEach((line, i) => {
			const failed = line.match(/^\s*--- FAIL: (\S+)/);
			if (failed) {
				const next = (lines[i + 1] ?? "").match(/^\s+\S+\.go:\d+: (.*)$/);
				pending.push(withMessage(failed[1] as string, next?.[1] ?? ""));
			}
			const pkg = line.match(/^(?:FAIL|ok)\s*\t(\S+)\t/);
			if (pkg) {
				tests.push(...pending.map((id) => `${pkg[1]} › ${id}`));
				pending = [];
			}
		});
		tests.push(...pending);
		const builds = eachLine(lines, /^FAIL\s+(\S+) \[(build failed|setup failed)\]/, (m) => `${m[1]} [${m[2]}]`);
		const compile = eachLine(lines, /^(\.?\/?[\w./-]+\.go):\d+:\d+: (.+)$/, (m) => `${m[1]}: ${m[2]}`);
		return [...tests, ...builds, ...compile];
	},
};

const tsc: Parser = {
	runner: "tsc",
	signature: /(\(\d+,\d+\): |:\d+:\d+ - )error TS\d+:/m,
	parse: (lines) =>
		eachLine(lines, /^(.+?)(?:\(\d+,\d+\): |:\d+:\d+ - )error (TS\d+): (.*)$/, (m) => `${m[1]}: ${m[2]} ${m[3]}`),
};

const eslint: Parser = {
	runner: "eslint",
	signature: /^✖ \d+ problems? \(/m,
	parse(lines) {
		let file = "";
		const ids: string[] = [];
		for (const line of lines) {
			if (/^\S/.test(line) && !line.startsWith("✖")) file = line.trim();
			const m = line.match(/^\s+\d+:\d+\s+error\s+(.+?)(?:\s{2,}(@?[\w/-]+))?\s*$/);
			if (m) ids.push(`${file}: ${m[2] ?? "error"} ${m[1]}`);
		}
		return ids;
	},
};

const biome: Parser = {
	runner: "biome",
	signature: /^(Checked|Found) \d+ (files?|errors?|warnings?)/m,
	parse: (lines) =>
		eachLine(lines, /^(\S+?):\d+:\d+ ([\w/]+)(?:\s+FIXABLE)?\s+━+$/, (m, i) => {
			const message = nextNonEmpty(lines, i + 1);
			// Warnings ("!") and notes ("i") do not fail a run; errors are "×" or "✖".
			return /^[!i] /.test(message) ? undefined : `${m[1]}: ${m[2]} ${message.replace(/^[×✖] /, "")}`;
		}),
};

const RUFF_CODE = "[A-Z]{1,4}\\d{3,4}";
const ruff: Parser = {
	runner: "ruff",
	signature: /^(Found \d+ errors?\.|All checks passed!)/m,
	parse(lines) {
		const concise = eachLine(
			lines,
			new RegExp(`^(\\S+?):\\d+:\\d+: (${RUFF_CODE}) (?:\\[\\*\\] )?(.*)$`),
			(m) => `${m[1]}: ${m[2]} ${m[3]}`,
		);
		const full = eachLine(lines, new RegExp(`^(${RUFF_CODE}) (?:\\[\\*\\] )?(.+)$`), (m, i) => {
			const where = (lines[i + 1] ?? "").match(/^\s*--> (\S+?):\d+:\d+/);
			return where ? `${where[1]}: ${m[1]} ${m[2]}` : undefined;
		});
		return [...concise, ...full];
	},
};

const mypy: Parser = {
	runner: "mypy",
	signature: /^(Found \d+ errors? in \d+ files?|Success: no issues found)/m,
	parse: (lines) =>
		eachLine(
			lines,
			/^(\S+?):\d+(?::\d+)?: error: (.*?)(?:\s+\[([\w-]+)\])?$/,
			(m) => `${m[1]}: ${m[3] ?? "error"} ${m[2]}`,
		),
};

const rustc: Parser = {
	runner: "rustc",
	signature: /^\s*--> \S+\.rs:\d+:\d+$/m,
	parse: (lines) =>
		eachLine(lines, /^error(?:\[(\w+)\])?: (.+)$/, (m, i) => {
			const where = (lines[i + 1] ?? "").match(/^\s*--> (\S+?):\d+:\d+$/);
			return where ? `${where[1]}: ${m[1] ?? "error"} ${m[2]}` : undefined;
		}),
};

const PARSERS: Parser[] = [
	nodeSpec,
	tap,
	vitest,
	jest,
	mocha,
	pytest,
	cargoTest,
	nextest,
	goTest,
	tsc,
	eslint,
	biome,
	ruff,
	mypy,
	rustc,
];

/** Runners' own words for "there were no tests to run". */
const NO_TESTS: [RegExp, string][] = [
	[/^=+ no tests ran in /m, "pytest: no tests ran"],
	[/^No tests found, exiting with code \d+/m, "jest: no tests found"],
	[/^No test files found, exiting with code \d+/m, "vitest: no test files found"],
	[/^Error: No test files found/m, "mocha: no test files found"],
	[/^Error: no test specified$/m, "npm: the test script is the placeholder (no test specified)"],
	[/^npm (?:ERR!|error) Missing script: "test"/m, 'npm: no "test" script'],
];

const UNIQUE = new Set(["node-test", "tap", "vitest", "jest", "mocha", "pytest", "cargo-test", "nextest", "go-test"]);

/** The failures each recognized runner reports, as sorted ids (`runner: id`). */
export function parseFailures(output: string): { runners: string[]; ids: string[] } {
	const text = stripAnsi(output).replace(/\r\n?/g, "\n");
	const lines = text.split("\n");
	const runners: string[] = [];
	const ids: string[] = [];
	for (const parser of PARSERS) {
		if (!parser.signature.test(text)) continue;
		const found = parser.parse(lines).map(cleanId);
		runners.push(parser.runner);
		// Test runners print a failing test in more than one place; diagnostics repeat for real.
		const kept = UNIQUE.has(parser.runner) ? [...new Set(found)] : found;
		ids.push(...kept.map((id) => `${parser.runner}: ${id}`));
	}
	return { runners, ids: ids.sort() };
}

/** Words of a real failure; none may stand beside a "no tests" message for it to count as one. */
const FAILURE_WORDS =
	/\b(fail\w*|error\w*|assert\w*|exception|traceback|panic\w*|segmentation|abort\w*|killed|timed out|timeout)\b/i;
/** npm's own lines around a failed script (`npm error …`, `> pkg@1.0.0 test`, `> command`). */
const NPM_CHATTER = /^(npm (error|ERR!)|> )/;

/**
 * "No tests found" in the runner's words — only when nothing else in the output failed: a workspace whose
 * other package fails, or a crash beside pytest's "no tests ran", is a failure like any other.
 */
export function noTestsFound(output: string): string | undefined {
	const text = stripAnsi(output).replace(/\r\n?/g, "\n");
	const found = NO_TESTS.find(([pattern]) => pattern.test(text));
	if (!found) return undefined;
	const other = text
		.split("\n")
		.filter((line) => !NPM_CHATTER.test(line) && !NO_TESTS.some(([pattern]) => pattern.test(line)))
		.some((line) => FAILURE_WORDS.test(line.replace(/\S*\/\S*/g, ""))); // paths are no words: "/tmp/failure-x/"
	return other ? undefined : found[1];
}

function hash(text: string): string {
	return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** A tool's own failure total, for output no parser could itemize. */
const COUNT_PATTERNS: RegExp[] = [
	/Tests?:?\s+(\d+) failed/i,
	/test result: FAILED\.\s+\d+ passed;\s+(\d+) failed/,
	/=+ (?:.*?\b)?(\d+) failed\b/,
	/Found (\d+) errors?\b/,
	/✖ (\d+) problems?/,
	/(\d+) failing\b/,
	/^# fail (\d+)$/m,
	/(\d+) failed\b/,
];

function printedFailureCount(output: string): number | undefined {
	const text = stripAnsi(output);
	for (const pattern of COUNT_PATTERNS) {
		const last = [...text.matchAll(new RegExp(pattern.source, `${pattern.flags}g`))].at(-1);
		if (last) return Number(last[1]);
	}
	return undefined;
}

/** Output with absolute paths below `cwd` made relative (`/work/app/src/a.ts` → `src/a.ts`, also as file: URLs). */
function relativeTo(output: string, cwd: string | undefined): string {
	if (!cwd || cwd === "/") return output;
	const dir = cwd.replace(/\/+$/, "");
	return output.replaceAll(`file://${dir}/`, "").replaceAll(`${dir}/`, "");
}

/**
 * The identity of one check run (`cwd`: where it ran, so the project's paths read the same wherever it lies).
 * A passing exit is "passed" whatever it printed; a failing one is its parsed failures, else "no tests" when
 * the runner says it found none and nothing else failed, else its denoised output.
 */
export function identifyCheck(exitCode: number, rawOutput: string, cwd?: string): IdentifiedCheck {
	if (exitCode === 0) return { identity: { kind: "passed" }, key: hash("passed"), count: 0 };
	const output = relativeTo(rawOutput, cwd);
	const parsed = parseFailures(output);
	if (parsed.ids.length > 0) {
		const identity: FailureIdentity = { kind: "failures", ...parsed };
		return { identity, key: hash(`exit ${exitCode}\n${parsed.ids.join("\n")}`), count: parsed.ids.length };
	}
	const none = noTestsFound(output);
	if (none) return { identity: { kind: "no-tests", detail: none }, key: hash(`no-tests\n${none}`), count: 0 };
	return {
		identity: { kind: "output" },
		key: hash(`exit ${exitCode}\n${normalizeOutput(output)}`),
		count: printedFailureCount(output),
	};
}
