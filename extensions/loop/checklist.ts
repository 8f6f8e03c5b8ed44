/**
 * Markdown checklists (IMPLEMENTATION_PLAN.md, PRD.md): parse `- [ ]` /
 * `- [x]` items, tick and untick them, and mark an item blocked with an HTML
 * comment beside it. Items are found by their text (the first one in the
 * matching state), so edits elsewhere in the file do not confuse them. CRLF
 * files keep their line endings. Pure.
 */

export interface ChecklistItem {
	/** 0-based line number in the file. */
	line: number;
	text: string;
	done: boolean;
	blocked?: string;
}

const ITEM = /^(\s*[-*+]\s+\[)([ xX])(\]\s+)(.*?)(\r?)$/;
const BLOCKED = /\s*<!--\s*loop:\s*blocked:\s*(.*?)\s*-->\s*$/;

export function parseChecklist(markdown: string): ChecklistItem[] {
	const items: ChecklistItem[] = [];
	markdown.split("\n").forEach((line, index) => {
		const m = ITEM.exec(line);
		if (!m) return;
		const rest = m[4] as string;
		const blocked = BLOCKED.exec(rest);
		items.push({
			line: index,
			text: rest.replace(BLOCKED, "").trim(),
			done: m[2] !== " ",
			blocked: blocked ? (blocked[1] as string) : undefined,
		});
	});
	return items;
}

/** The first item neither done nor blocked. */
export function firstOpen(items: ChecklistItem[]): ChecklistItem | undefined {
	return items.find((i) => !i.done && i.blocked === undefined);
}

/** The first item with this text, preferring one in the wanted state. */
export function findItem(
	markdown: string,
	text: string,
	prefer?: (item: ChecklistItem) => boolean,
): ChecklistItem | undefined {
	const matches = parseChecklist(markdown).filter((i) => i.text === text);
	return (prefer && matches.find(prefer)) ?? matches[0];
}

/** Item texts that occur more than once among open items (they could not be told apart). */
export function duplicateOpenItems(items: ChecklistItem[]): string[] {
	const seen = new Map<string, number>();
	for (const i of items) if (!i.done) seen.set(i.text, (seen.get(i.text) ?? 0) + 1);
	return [...seen].filter(([, n]) => n > 1).map(([text]) => text);
}

function rewriteItem(markdown: string, item: ChecklistItem | undefined, change: (line: string) => string): string {
	if (!item) return markdown;
	const lines = markdown.split("\n");
	lines[item.line] = change(lines[item.line] as string);
	return lines.join("\n");
}

export function setDone(markdown: string, text: string, done: boolean): string {
	const item = findItem(markdown, text, (i) => i.done !== done && i.blocked === undefined);
	return rewriteItem(markdown, item, (line) =>
		line.replace(
			ITEM,
			(_m, a: string, _x: string, b: string, rest: string, cr: string) => `${a}${done ? "x" : " "}${b}${rest}${cr}`,
		),
	);
}

/** Marks the item blocked (reason on one line, without comment terminators). */
export function setBlocked(markdown: string, text: string, reason: string): string {
	const clean = reason.replace(/--+>?/g, "-").replace(/\s+/g, " ").trim().slice(0, 300);
	const item = findItem(markdown, text, (i) => !i.done);
	return rewriteItem(markdown, item, (line) => {
		const cr = line.endsWith("\r") ? "\r" : "";
		return `${line.replace(/\r$/, "").replace(BLOCKED, "")} <!-- loop: blocked: ${clean} -->${cr}`;
	});
}
