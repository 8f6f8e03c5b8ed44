/**
 * Check-output helpers: ANSI stripping, tails for prompts, and the
 * noise-free normalization that failure identity falls back on for output
 * no runner parser recognizes.
 */
// CSI / OSC escape sequences, character-set selections (`ESC ( B`, tput's sgr0) and lone ESC-prefixed controls.
const ANSI =
	// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what this matches
	/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[()*+][0-9A-Za-z]|\u001b[@-Z\\-_]/g;

export function stripAnsi(text: string): string {
	return text.replace(ANSI, "");
}

/** The last `maxBytes` bytes of text (on a line boundary when possible), ANSI stripped. */
export function outputTail(text: string, maxBytes = 5000): string {
	const clean = stripAnsi(text).replace(/\r\n?/g, "\n");
	const bytes = Buffer.from(clean, "utf8");
	if (bytes.length <= maxBytes) return clean;
	let tail = bytes
		.subarray(bytes.length - maxBytes)
		.toString("utf8")
		.replace(/^\uFFFD+/, "");
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
	// TAP and node --test summaries: `# duration_ms 146.70`, `ℹ duration_ms 146.70` (no colon).
	[/^(#|ℹ) duration_ms [\d.]+$/gm, "$1 duration_ms <dur>"],
	// jest adds an estimate once it has timings of an earlier run.
	[/(<dur>), estimated <dur>/g, "$1"],
	// Rust panics name the thread id: `thread 'tests::sum' (19274) panicked`.
	[/^(thread '[^']*') \(\d+\)/gm, "$1"],
	[/\bpid[ =:]?\d+\b/gi, "pid <n>"],
	// A temp directory's random name; what lies below it (a project's own files) stays.
	[/\/tmp\/[^\s:'")/]+/g, "<tmp>"],
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
