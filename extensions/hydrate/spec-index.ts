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

function toPosix(path: string): string {
	return sep === "/" ? path : path.split(sep).join("/");
}

export class SpecIndex {
	private readonly files = new Map<string, FileEntry>();
	private readonly search: MiniSearch<Section & { id: string }>;

	/** root: the project; specsDir: project-relative folder of spec files. */
	constructor(
		readonly root: string,
		readonly specsDir: string,
	) {
		this.search = new MiniSearch<Section & { id: string }>({
			fields: ["heading", "text"],
			storeFields: ["path", "index", "heading", "text"],
			searchOptions: { boost: { heading: 2 }, prefix: (term) => term.length > 4 },
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
			for (const s of entry.sections) this.search.discard(`${path}#${s.index}`);
			this.files.delete(path);
			counts.removed++;
		}
		for (const [path, signature] of onDisk) {
			const known = this.files.get(path);
			if (known?.signature === signature) continue;
			if (known) for (const s of known.sections) this.search.discard(`${path}#${s.index}`);
			const text = readFileSync(join(this.root, path), "utf8");
			const sections = splitSections(path, text);
			this.search.addAll(sections.map((s) => ({ ...s, id: `${path}#${s.index}` })));
			this.files.set(path, { signature, text, sections });
			if (known) counts.updated++;
			else counts.added++;
		}
		return counts;
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
		if (query.trim() === "") return [];
		return this.search
			.search(query)
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
