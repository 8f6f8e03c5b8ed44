/**
 * Splits markdown into sections at ATX headings (outside code fences), each
 * carrying its heading trail ("Auth > Tokens") so it can be ranked and quoted
 * on its own. Pure.
 */

export interface Section {
	/** Project-relative path of the file. */
	path: string;
	/** Position of the section in its file (0 = text before the first heading). */
	index: number;
	heading: string;
	text: string;
}

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const FENCE = /^\s*(```|~~~)/;

export function splitSections(path: string, markdown: string): Section[] {
	const sections: Section[] = [];
	const trail: string[] = [];
	let lines: string[] = [];
	let heading = "";
	let inFence = false;
	const flush = () => {
		const text = lines.join("\n").trim();
		if (text !== "") sections.push({ path, index: sections.length, heading, text });
		lines = [];
	};
	for (const line of markdown.split("\n")) {
		if (FENCE.test(line)) inFence = !inFence;
		const m = inFence ? null : HEADING.exec(line);
		if (m) {
			flush();
			const level = (m[1] as string).length;
			trail.length = level - 1;
			trail[level - 1] = m[2] as string;
			heading = trail.filter(Boolean).join(" > ");
		}
		lines.push(line);
	}
	flush();
	return sections;
}

/** A rough token count (4 characters per token), the same everywhere in the package. */
export function estimateTokens(text: string): number {
	return Math.ceil(text.length / 4);
}
