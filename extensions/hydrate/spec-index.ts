/**
 * A full-text index (BM25, via MiniSearch) over the sections of the
 * project's spec files. Incremental: refresh() re-reads only files whose
 * size or mtime changed. node_modules, .git and gitignored paths are skipped.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import ignore, { type Ignore } from "ignore";
import MiniSearch from "minisearch";
import { processWide } from "../shared/process-wide.ts";
import { type Section, splitSections } from "./sections.ts";

interface IgnoreRules {
	/** Project-relative directory the rules are relative to ("" for the root). */
	base: string;
	ig: Ignore;
}

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
	(
		"a an and are as at be but by can do does for from has have if in into is it its must not of on or should so " +
		"such that the their then there these this to was when which while will with within without would you your"
	).split(" "),
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

	/** The ignore rules of one directory (its .gitignore), if it has any. */
	private rulesIn(dir: string): IgnoreRules | undefined {
		const files = [join(this.root, dir, ".gitignore")];
		if (dir === "") files.push(join(this.root, ".git", "info", "exclude"));
		const texts = files.filter((f) => existsSync(f)).map((f) => readFileSync(f, "utf8"));
		return texts.length > 0 ? { base: dir, ig: ignore().add(texts) } : undefined;
	}

	private listSpecFiles(): Map<string, string> {
		const found = new Map<string, string>();
		const specs = toPosix(this.specsDir).replace(/^\.\//, "").replace(/\/$/, "");
		if (!existsSync(join(this.root, specs))) return found;
		// .gitignore files from the project root down to the specs folder apply, then those inside it.
		const parts = specs.split("/");
		const outer = ["", ...parts.slice(0, -1).map((_p, i) => parts.slice(0, i + 1).join("/"))].flatMap(
			(d) => this.rulesIn(d) ?? [],
		);
		const ignored = (rel: string, isDir: boolean, rules: IgnoreRules[]) =>
			rules.some((r) => {
				const local = r.base === "" ? rel : rel.slice(r.base.length + 1);
				return local !== "" && r.ig.ignores(isDir ? `${local}/` : local);
			});
		const walk = (rel: string, rules: IgnoreRules[]) => {
			const own = this.rulesIn(rel);
			const active = own ? [...rules, own] : rules;
			for (const entry of readdirSync(join(this.root, rel), { withFileTypes: true })) {
				if (ALWAYS_SKIPPED.has(entry.name)) continue;
				const child = `${rel}/${entry.name}`;
				if (ignored(child, entry.isDirectory(), active)) continue;
				if (entry.isDirectory()) walk(child, active);
				else if (entry.isFile() && entry.name.endsWith(".md")) {
					const st = statSync(join(this.root, child));
					found.set(child, `${st.size}:${st.mtimeMs}`);
				}
			}
		};
		if (!ignored(specs, true, outer)) walk(specs, outer);
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
		// remove() (not discard()) also takes the sections out of the ranking statistics, so the
		// same files always rank the same, however the index got there.
		for (const s of entry.sections) this.search.remove({ ...s, id: `${path}#${s.index}` });
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
			.map((r) => ({
				path: r.path as string,
				index: r.index as number,
				heading: r.heading as string,
				text: r.text as string,
				score: r.score,
			}))
			.sort((a, b) => b.score - a.score || a.path.localeCompare(b.path) || a.index - b.index)
			.slice(0, limit);
	}
}

/** One index per project and specs folder for the whole pi process (extensions are rebuilt per session). */
export function sharedSpecIndex(root: string, specsDir: string): SpecIndex {
	const map = processWide("spec-indexes", () => new Map<string, SpecIndex>());
	const id = `${root}\0${specsDir}`;
	let index = map.get(id);
	if (!index) {
		index = new SpecIndex(root, specsDir);
		map.set(id, index);
	}
	return index;
}
