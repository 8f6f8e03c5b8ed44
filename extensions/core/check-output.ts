/**
 * Check-output helpers: ANSI stripping, tails for prompts, noise-free
 * normalization and fingerprints (to tell "same failure" from "different
 * failure"), and best-effort failure counts from common test/lint tools.
 */
import { createHash } from "node:crypto";

// CSI / OSC escape sequences and lone ESC-prefixed controls.
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

export function stripAnsi(text: string): string {
	return text.replace(ANSI, "");
}

/** The last `maxBytes` bytes of text (on a line boundary when possible), ANSI stripped. */
export function outputTail(text: string, maxBytes = 5000): string {
	const clean = stripAnsi(text).replace(/\r\n?/g, "\n");
	const bytes = Buffer.from(clean, "utf8");
	if (bytes.length <= maxBytes) return clean;
	let tail = bytes.subarray(bytes.length - maxBytes).toString("utf8").replace(/^\uFFFD+/, "");
	const newline = tail.indexOf("\n");
	if (newline !== -1 && newline < tail.length / 4) tail = tail.slice(newline + 1);
	return `[… ${bytes.length - Buffer.byteLength(tail)} earlier bytes cut …]\n${tail}`;
}

const NOISE: [RegExp, string][] = [
	[/\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?(\.\d+)?(Z|[+-]\d\d:?\d\d)?/g, "<time>"],
	[/\b\d{1,2}:\d\d:\d\d(\.\d+)?\b/g, "<time>"],
	[/\b0x[0-9a-fA-F]{4,}\b/g, "<addr>"],
	[/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<uuid>"],
	[/\b\d+(\.\d+)?\s?(ns|µs|us|ms|s|sec|secs|seconds|m|min)\b/g, "<dur>"],
	[/\b(duration|elapsed|time)(_?ms|_?s)?(["']?\s*[:=]\s*)\d+(\.\d+)?/gi, "$1$2$3<dur>"],
	[/\bpid[ =:]?\d+\b/gi, "pid <n>"],
	[/\/tmp\/[^\s:'")]+/g, "<tmp>"],
	[/\bport \d+\b/gi, "port <n>"],
];

/** Check output with timings, timestamps, addresses and similar run-to-run noise removed. */
export function normalizeOutput(text: string): string {
	let out = stripAnsi(text).replace(/\r\n?/g, "\n");
	for (const [pattern, replacement] of NOISE) out = out.replace(pattern, replacement);
	return out
		.split("\n")
		.map((line) => line.trimEnd())
		.filter((line) => line !== "")
		.join("\n");
}

/** Stable identity of a check result: exit status plus normalized output. */
export function fingerprint(exitCode: number, output: string): string {
	return createHash("sha256").update(`${exitCode}\n${normalizeOutput(output)}`).digest("hex").slice(0, 16);
}

const FAILURE_PATTERNS: RegExp[] = [
	/Tests?:?\s+(\d+) failed/i, // vitest / jest
	/test result: FAILED\.\s+\d+ passed;\s+(\d+) failed/, // cargo
	/=+ (?:.*?\b)?(\d+) failed\b/, // pytest summary line
	/Found (\d+) errors?\b/, // tsc, ruff, mypy
	/✖ (\d+) problems?/, // eslint
	/(\d+) failing\b/, // mocha
	/^# fail (\d+)$/m, // node --test / tap
	/(\d+) failed\b/, // generic
];

/** The failure/error count a tool reported in its output, when one is recognizable. */
export function parseFailureCount(output: string): number | undefined {
	const text = stripAnsi(output);
	for (const pattern of FAILURE_PATTERNS) {
		const matches = [...text.matchAll(new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : `${pattern.flags}g`))];
		const last = matches.at(-1);
		if (last) return Number(last[1]);
	}
	const goFails = text.match(/^--- FAIL: /gm);
	return goFails ? goFails.length : undefined;
}
