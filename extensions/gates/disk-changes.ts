/**
 * What changed on disk between two looks at a project's source files (by
 * modification time and size): the language server is told about files
 * changed by other means than write/edit (bash, an editor, git checkout),
 * which it would otherwise keep seeing as they were.
 */
import { readdirSync, statSync } from "node:fs";
import { extname, join } from "node:path";

export type Stamps = Map<string, string>;

export interface DiskChange {
	path: string;
	kind: "created" | "changed" | "deleted";
}

const WATCHED_EXTENSIONS = new Set([".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs", ".d.ts"]);
const WATCHED_NAMES = /^(tsconfig.*|jsconfig.*|package)\.json$/;
const MAX_FILES = 50_000;

/** Modification stamps of the project's source and config files (node_modules and dot-directories skipped). */
export function stampSources(root: string): Stamps {
	const stamps: Stamps = new Map();
	const walk = (dir: string) => {
		let entries: import("node:fs").Dirent[];
		try {
			entries = readdirSync(dir, { withFileTypes: true });
		} catch {
			return;
		}
		for (const e of entries) {
			if (stamps.size >= MAX_FILES) return;
			const path = join(dir, e.name);
			if (e.isDirectory()) {
				if (e.name !== "node_modules" && !e.name.startsWith(".")) walk(path);
			} else if (WATCHED_EXTENSIONS.has(extname(e.name)) || WATCHED_NAMES.test(e.name)) {
				try {
					const st = statSync(path);
					stamps.set(path, `${st.mtimeMs}:${st.size}`);
				} catch {
					// gone meanwhile
				}
			}
		}
	};
	walk(root);
	return stamps;
}

export function diffStamps(before: Stamps, after: Stamps): DiskChange[] {
	const changes: DiskChange[] = [];
	for (const [path, stamp] of after) {
		const old = before.get(path);
		if (old === undefined) changes.push({ path, kind: "created" });
		else if (old !== stamp) changes.push({ path, kind: "changed" });
	}
	for (const path of before.keys()) if (!after.has(path)) changes.push({ path, kind: "deleted" });
	return changes;
}
