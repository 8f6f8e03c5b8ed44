/**
 * Markdown checklists (IMPLEMENTATION_PLAN.md, PRD.md): parse `- [ ]` /
 * `- [x]` items, tick and untick them, and mark an item blocked with an HTML
 * comment beside it. Items are found by their text, so edits elsewhere in the
 * file do not confuse them. Pure.
 */

export interface ChecklistItem {
	/** 0-based line number in the file. */
	line: number;
	text: string;
	done: boolean;
	blocked?: string;
}

const ITEM = /^(\s*[-*+]\s+\[)([ xX])(\]\s+)(.*)$/;
const BLOCKED = /\s*<!--\s*loop:\s*blocked:\s*(.*?)\s*-->\s*$/;

export function parseChecklist(markdown: string): ChecklistItem[] {
	const items: ChecklistItem[] = [];
	markdown.split("\n").forEach((line, index) => {
		const m = ITEM.exec(line);
		if (!m) return;
		const rest = m[4] as string;
		const blocked = BLOCKED.exec(rest);
		items.push({ line: index, text: rest.replace(BLOCKED, "").trim(), done: m[2] !== " ", blocked: blocked ? (blocked[1] as string) : undefined });
	});
	return items;
}

/** The first item neither done nor blocked. */
export function firstOpen(items: ChecklistItem[]): ChecklistItem | undefined {
	return items.find((i) => !i.done && i.blocked === undefined);
}

export function findItem(markdown: string, text: string): ChecklistItem | undefined {
	return parseChecklist(markdown).find((i) => i.text === text);
}

function rewriteItem(markdown: string, text: string, change: (line: string) => string): string {
	const item = findItem(markdown, text);
	if (!item) return markdown;
	const lines = markdown.split("\n");
	lines[item.line] = change(lines[item.line] as string);
	return lines.join("\n");
}

export function setDone(markdown: string, text: string, done: boolean): string {
	return rewriteItem(markdown, text, (line) => line.replace(ITEM, (_m, a: string, _x: string, b: string, rest: string) => `${a}${done ? "x" : " "}${b}${rest}`));
}

/** Marks the item blocked (reason on one line, without comment terminators). */
export function setBlocked(markdown: string, text: string, reason: string): string {
	const clean = reason.replace(/--+>?/g, "-").replace(/\s+/g, " ").trim().slice(0, 300);
	return rewriteItem(markdown, text, (line) => `${line.replace(BLOCKED, "")} <!-- loop: blocked: ${clean} -->`);
}
