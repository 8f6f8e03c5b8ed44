// npm run lint / npm test: lines stay under 120 columns. Lists every line longer than 120 characters (tabs count
// one) in the files git tracks under extensions/, blueprints/, test/ (not test/fixtures/), bench/, scripts/ and demo/
// (not demo/sample/) ending in .ts, .mts, .js or .mjs, as `path:line: N columns`, and exits 1 if there is any. Biome
// formats at width 120 but leaves long strings, template literals and comments as they are; this catches those.
// Plain node, no dependencies: `node scripts/check-line-length.mjs`.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const MAX_COLUMNS = 120;
const FOLDERS = ["extensions/", "blueprints/", "test/", "bench/", "scripts/", "demo/"];
const SKIPPED = ["test/fixtures/", "demo/sample/"];
const EXTENSIONS = [".ts", ".mts", ".js", ".mjs"];

/** Whether a path (relative to the project, with `/`) is one this check reads. */
export function isChecked(path) {
	return (
		FOLDERS.some((f) => path.startsWith(f)) &&
		!SKIPPED.some((f) => path.startsWith(f)) &&
		EXTENSIONS.some((e) => path.endsWith(e))
	);
}

/** The lines of `paths` (relative to `root`) longer than `max` characters, in order: { path, line, columns }. */
export function longLines(root, paths, max = MAX_COLUMNS) {
	const found = [];
	for (const path of paths) {
		const lines = readFileSync(join(root, path), "utf8").split(/\r?\n/);
		lines.forEach((text, i) => {
			const columns = [...text].length; // characters, not UTF-16 units: "·" or "→" count one
			if (columns > max) found.push({ path, line: i + 1, columns });
		});
	}
	return found;
}

/** One finding as `path:line: N columns`. */
export function formatLongLine({ path, line, columns }) {
	return `${path}:${line}: ${columns} columns`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
	const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
	const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" }).split("\0");
	const found = longLines(root, tracked.filter(isChecked));
	for (const f of found) console.log(formatLongLine(f));
	if (found.length > 0) {
		console.error(`${found.length} line(s) over ${MAX_COLUMNS} columns: split the string or rewrap the comment`);
		process.exit(1);
	}
}
