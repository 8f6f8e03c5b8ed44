/**
 * A full-text index (BM25, via MiniSearch) over the sections of the
 * project's spec files. Incremental: refresh() re-reads only files whose
 * size or mtime changed. node_modules, .git and gitignored paths are skipped.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import ignore, { type Ignore } from "ignore";
import MiniSearch from "minisearch";
import { type Section, splitSections } from "./sections.ts";

interface FileEntry {
	signature: string;
	text: string;
	sections: Section[];
}

export interface SectionHit extends Section {
	score: number;
}

const ALWAYS_SKIPPED = new Set(["node_modules", ".git"]);

const SPACE_OR_PUNCTUATION = /[\n\r\p{Z}\p{P}]+/u;

// Words too common to tell specs apart; leaving them out keeps queries fast on large corpora.
const STOP_WORDS = new Set(
	"a an and are as at be but by can do does for from has have if in into is it its must not of on or should so such that the their then there these this to was when which while will with within without would you your".split(" "),
);

function toPosix(path: string): string {
	return sep === "/" ? path : path.split(sep).join("/");
}

function termsOf(text: string): Set<string> {
	const terms = new Set<string>();
	for (const raw of text.split(SPACE_OR_PUNCTUATION)) {
		const term = normalizeTerm(raw);
		if (term) terms.add(term);
	}
	return terms;
}

function normalizeTerm(term: string): string | null {
	const t = term.toLowerCase();
	return t.length < 2 || STOP_WORDS.has(t) ? null : t;
}

// On large corpora, terms in more than this share of sections barely change the ranking
// but cost the most to score; they are left out of queries.
const COMMON_TERM_SHARE = 0.2;
const PRUNE_FROM_SECTIONS = 500;

export class SpecIndex {
	private readonly files = new Map<string, FileEntry>();
	private readonly search: MiniSearch<Section & { id: string }>;
	/** In how many sections each term occurs. */
	private readonly documentFrequency = new Map<string, number>();
	private sectionCount = 0;

	/** root: the project; specsDir: project-relative folder of spec files. */
	constructor(
		readonly root: string,
		readonly specsDir: string,
	) {
		this.search = new MiniSearch<Section & { id: string }>({
			fields: ["heading", "text"],
			storeFields: ["path", "index", "heading", "text"],
			tokenize: (text) => text.split(SPACE_OR_PUNCTUATION),
			processTerm: normalizeTerm,
			searchOptions: { boost: { heading: 2 } },
		});
	}

	private gitignore(): Ignore {
		const ig = ignore();
		const file = join(this.root, ".gitignore");
		if (existsSync(file)) ig.add(readFileSync(file, "utf8"));
		return ig;
	}

	private listSpecFiles(): Map<string, string> {
		const found = new Map<string, string>();
		const base = join(this.root, this.specsDir);
		if (!existsSync(base)) return found;
		const ig = this.gitignore();
		const walk = (dir: string) => {
			for (const entry of readdirSync(dir, { withFileTypes: true })) {
				if (ALWAYS_SKIPPED.has(entry.name)) continue;
				const full = join(dir, entry.name);
				const rel = toPosix(relative(this.root, full));
				if (ig.ignores(entry.isDirectory() ? `${rel}/` : rel)) continue;
				if (entry.isDirectory()) walk(full);
				else if (entry.isFile() && entry.name.endsWith(".md")) {
					const st = statSync(full);
					found.set(rel, `${st.size}:${st.mtimeMs}`);
				}
			}
		};
		walk(base);
		return found;
	}

	/** Brings the index up to date with the disk; returns how many files changed. */
	refresh(): { added: number; updated: number; removed: number } {
		const onDisk = this.listSpecFiles();
		const counts = { added: 0, updated: 0, removed: 0 };
		for (const [path, entry] of this.files) {
			if (onDisk.has(path)) continue;
			this.unindex(path, entry);
			this.files.delete(path);
			counts.removed++;
		}
		for (const [path, signature] of onDisk) {
			const known = this.files.get(path);
			if (known?.signature === signature) continue;
			if (known) this.unindex(path, known);
			const text = readFileSync(join(this.root, path), "utf8");
			const sections = splitSections(path, text);
			this.search.addAll(sections.map((s) => ({ ...s, id: `${path}#${s.index}` })));
			this.count(sections, 1);
			this.files.set(path, { signature, text, sections });
			if (known) counts.updated++;
			else counts.added++;
		}
		return counts;
	}

	private unindex(path: string, entry: FileEntry): void {
		for (const s of entry.sections) this.search.discard(`${path}#${s.index}`);
		this.count(entry.sections, -1);
	}

	private count(sections: Section[], delta: 1 | -1): void {
		this.sectionCount += delta * sections.length;
		for (const s of sections) {
			for (const term of termsOf(`${s.heading} ${s.text}`)) {
				const n = (this.documentFrequency.get(term) ?? 0) + delta;
				if (n > 0) this.documentFrequency.set(term, n);
				else this.documentFrequency.delete(term);
			}
		}
	}

	/** The query's distinctive terms: very common ones are dropped unless nothing else is left. */
	private queryTerms(query: string): string[] {
		const terms = [...termsOf(query)];
		if (this.sectionCount < PRUNE_FROM_SECTIONS) return terms;
		const limit = this.sectionCount * COMMON_TERM_SHARE;
		const df = (t: string) => this.documentFrequency.get(t) ?? 0;
		const distinctive = terms.filter((t) => df(t) > 0 && df(t) <= limit);
		if (distinctive.length > 0) return distinctive;
		return terms.sort((a, b) => df(a) - df(b) || a.localeCompare(b)).slice(0, 3);
	}

	/** Spec files, sorted by path. */
	paths(): string[] {
		return [...this.files.keys()].sort();
	}

	text(path: string): string | undefined {
		return this.files.get(path)?.text;
	}

	/** Sections ranked by relevance to the query, best first; ties in path order (deterministic). */
	query(query: string, limit = 50): SectionHit[] {
		const terms = this.queryTerms(query);
		if (terms.length === 0) return [];
		return this.search
			.search(terms.join(" "))
			.map((r) => ({ path: r.path as string, index: r.index as number, heading: r.heading as string, text: r.text as string, score: r.score }))
			.sort((a, b) => b.score - a.score || a.path.localeCompare(b.path) || a.index - b.index)
			.slice(0, limit);
	}
}

/** One index per project and specs folder for the whole pi process (extensions are rebuilt per session). */
export function sharedSpecIndex(root: string, specsDir: string): SpecIndex {
	const key = Symbol.for("pi-loop-factory.spec-indexes");
	const registry = globalThis as unknown as Record<symbol, Map<string, SpecIndex> | undefined>;
	registry[key] ??= new Map();
	const map = registry[key];
	const id = `${root}\0${specsDir}`;
	let index = map.get(id);
	if (!index) {
		index = new SpecIndex(root, specsDir);
		map.set(id, index);
	}
	return index;
}
