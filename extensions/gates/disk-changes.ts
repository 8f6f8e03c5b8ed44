/**
 * What changed on disk between two looks at a project's source files (by
 * modification time and size): the language server is told about files
 * changed by other means than write/edit (bash, an editor, git checkout),
 * which it would otherwise keep seeing as they were.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import ignore from "ignore";
import { posixRelative } from "../shared/posix-path.ts";

export interface Stamps {
	files: Map<string, string>;
	/** The walk stopped at its cap: files not seen may still exist. */
	truncated: boolean;
}

export interface DiskChange {
	path: string;
	kind: "created" | "changed" | "deleted";
}

/** Which files a server reads: source extensions and config file names. */
export interface WatchedFiles {
	extensions: readonly string[];
	names: RegExp;
}

/** TypeScript and JavaScript sources with their tsconfig/jsconfig/package.json files. */
export const TS_WATCHED: WatchedFiles = {
	extensions: [".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"],
	names: /^(tsconfig.*|jsconfig.*|package)\.json$/,
};
const MAX_FILES = 50_000;

function rootIgnores(root: string): (dir: string) => boolean {
	let rules = "";
	try {
		rules = readFileSync(join(root, ".gitignore"), "utf8");
	} catch {
		return () => false;
	}
	const matcher = ignore().add(rules);
	return (dir) => matcher.ignores(`${posixRelative(root, dir)}/`);
}

/**
 * Modification stamps of the project's source and config files (`watched`):
 * node_modules, dot-directories and directories the root .gitignore names
 * (build output) are skipped.
 */
export function stampSources(root: string, watched: WatchedFiles = TS_WATCHED, max = MAX_FILES): Stamps {
	const extensions = new Set(watched.extensions);
	const stamps = new Map<string, string>();
	const ignored = rootIgnores(root);
	let truncated = false;
	const walk = (dir: string) => {
		let entries: import("node:fs").Dirent[];
		try {
			entries = readdirSync(dir, { withFileTypes: true });
		} catch {
			return;
		}
		for (const e of entries) {
			if (stamps.size >= max) {
				truncated = true;
				return;
			}
			const path = join(dir, e.name);
			if (e.isDirectory()) {
				if (e.name !== "node_modules" && !e.name.startsWith(".") && !ignored(path)) walk(path);
			} else if (extensions.has(extname(e.name)) || watched.names.test(e.name)) {
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
	return { files: stamps, truncated };
}

/** What changed between two walks; a capped walk reports no deletions (a file past the cap is not gone). */
export function diffStamps(before: Stamps, after: Stamps): DiskChange[] {
	const changes: DiskChange[] = [];
	for (const [path, stamp] of after.files) {
		const old = before.files.get(path);
		if (old === undefined) {
			if (!before.truncated) changes.push({ path, kind: "created" });
		} else if (old !== stamp) changes.push({ path, kind: "changed" });
	}
	if (!after.truncated)
		for (const path of before.files.keys()) if (!after.files.has(path)) changes.push({ path, kind: "deleted" });
	return changes;
}
