/**
 * Diagnostics as the model sees them after a write: errors first, then
 * warnings, `file:line:col severity code: message`, capped, and only what is
 * new since the file's previous check (the rest is counted, not repeated).
 * Pure.
 */

export type Severity = "error" | "warning";

export interface Diagnostic {
	/** Project-relative path with forward slashes. */
	file: string;
	line: number;
	col: number;
	severity: Severity;
	message: string;
	code?: string;
}

/** What one gate found for one written file. */
export type FileFinding =
	| { gate: string; status: "diagnostics"; items: Diagnostic[] }
	| { gate: string; status: "formatted" | "unchanged" }
	| { gate: string; status: "failed"; exitCode: number; output: string }
	| { gate: string; status: "unavailable"; reason: string };

export const MAX_LINES = 20;

export function diagnosticKey(d: Diagnostic): string {
	return `${d.severity}|${d.code ?? ""}|${d.message}`;
}

/** Splits `current` into what was not in `previous` (counting repeats) and how many were already there. */
export function newSince(
	previous: Diagnostic[] | undefined,
	current: Diagnostic[],
): { fresh: Diagnostic[]; unchanged: number } {
	if (!previous) return { fresh: current, unchanged: 0 };
	const seen = new Map<string, number>();
	for (const d of previous) seen.set(diagnosticKey(d), (seen.get(diagnosticKey(d)) ?? 0) + 1);
	const fresh: Diagnostic[] = [];
	for (const d of current) {
		const left = seen.get(diagnosticKey(d)) ?? 0;
		if (left > 0) seen.set(diagnosticKey(d), left - 1);
		else fresh.push(d);
	}
	return { fresh, unchanged: current.length - fresh.length };
}

export function sortDiagnostics(items: Diagnostic[]): Diagnostic[] {
	const rank = (s: Severity) => (s === "error" ? 0 : 1);
	return [...items].sort(
		(a, b) => rank(a.severity) - rank(b.severity) || a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col,
	);
}

export function formatDiagnostic(d: Diagnostic): string {
	const message = d.message.replace(/\s*\n\s*/g, " ").trim();
	return `${d.file}:${d.line}:${d.col} ${d.severity}${d.code ? ` ${d.code}` : ""}: ${message}`;
}

function count(items: Diagnostic[]): string {
	const errors = items.filter((d) => d.severity === "error").length;
	const warnings = items.length - errors;
	const parts = [
		errors > 0 ? `${errors} error${errors === 1 ? "" : "s"}` : "",
		warnings > 0 ? `${warnings} warning${warnings === 1 ? "" : "s"}` : "",
	];
	return parts.filter(Boolean).join(", ");
}

/** Last `max` non-empty lines of a command's output. */
export function tailLines(output: string, max: number): string[] {
	const lines = output.split(/\r?\n/).filter((l) => l.trim() !== "");
	return lines.length <= max ? lines : [`… ${lines.length - max} earlier lines`, ...lines.slice(-max)];
}

/**
 * The block appended to one write's tool result. `previous` is the file's
 * diagnostics from its last check per gate (undefined the first time).
 */
export function renderFindings(findings: FileFinding[], previous: (gate: string) => Diagnostic[] | undefined): string {
	const head: string[] = [];
	const listed: string[] = [];
	for (const f of findings) {
		if (f.status === "formatted") head.push(`${f.gate}: formatted on disk (re-read the file before editing it again)`);
		else if (f.status === "unavailable") head.push(`${f.gate}: diagnostics unavailable (${f.reason})`);
		else if (f.status === "failed") {
			head.push(`${f.gate}: failed (exit ${f.exitCode})`);
			// with its "… earlier lines" marker: MAX_LINES
			listed.push(...tailLines(f.output, MAX_LINES - 1).map((l) => `  ${l}`));
		} else if (f.status === "diagnostics") {
			if (f.items.length === 0) {
				head.push(`${f.gate}: clean`);
				continue;
			}
			const { fresh, unchanged } = newSince(previous(f.gate), f.items);
			const still = unchanged > 0 ? `${fresh.length > 0 ? "; " : ""}${unchanged} unchanged since the last check` : "";
			head.push(`${f.gate}: ${fresh.length > 0 ? `${count(fresh)} new` : ""}${still}`);
			listed.push(...sortDiagnostics(fresh).map((d) => `  ${formatDiagnostic(d)}`));
		}
	}
	if (head.length === 0) return "";
	const shown =
		listed.length > MAX_LINES ? [...listed.slice(0, MAX_LINES), `  +${listed.length - MAX_LINES} more`] : listed;
	return ["[gates]", ...head, ...shown].join("\n");
}
