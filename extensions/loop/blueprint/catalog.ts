/**
 * Which blueprint `/loop run <name|file>` means: a path (relative to the
 * project, or absolute), else a name from the project's `.pi/blueprints/`
 * or the package's own `blueprints/`. Also the listing `/loop run` shows.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BlueprintNotFound } from "./blueprint-errors.ts";

export const SCRIPT_EXTENSIONS = [".ts", ".mts", ".js", ".mjs"];

/** The package's own blueprints folder. */
export const PACKAGE_BLUEPRINTS = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "blueprints");

export interface CatalogEntry {
	name: string;
	file: string;
	source: "project" | "package";
	/** The first line of the script's header comment. */
	summary?: string;
}

function scriptsIn(dir: string): string[] {
	if (!existsSync(dir)) return [];
	return readdirSync(dir)
		.filter((f) => SCRIPT_EXTENSIONS.includes(extname(f)) && !f.endsWith(".d.ts"))
		.sort()
		.map((f) => join(dir, f));
}

function summaryOf(file: string, read: (file: string) => string): string | undefined {
	const text = read(file);
	const comment = /^\s*\/\*\*?\s*\n?\s*\*?\s*([^\n]+)/.exec(text);
	return comment?.[1]?.replace(/\*\/\s*$/, "").trim() || undefined;
}

/** Project blueprints first; a project blueprint hides a package one of the same name. */
export function listBlueprints(cwd: string, read: (file: string) => string): CatalogEntry[] {
	const entries: CatalogEntry[] = [];
	const seen = new Set<string>();
	for (const [dir, source] of [
		[join(cwd, ".pi", "blueprints"), "project"],
		[PACKAGE_BLUEPRINTS, "package"],
	] as const) {
		for (const file of scriptsIn(dir)) {
			const name = basename(file, extname(file));
			if (seen.has(name)) continue;
			seen.add(name);
			entries.push({ name, file, source, summary: summaryOf(file, read) });
		}
	}
	return entries;
}

export function resolveBlueprint(cwd: string, given: string, read: (file: string) => string): string {
	const path = isAbsolute(given) ? given : resolve(cwd, given);
	if (existsSync(path)) {
		if (!statSync(path).isFile()) throw new BlueprintNotFound(`${path} is not a file`);
		if (!SCRIPT_EXTENSIONS.includes(extname(path)))
			throw new BlueprintNotFound(`${path}: a blueprint is a ${SCRIPT_EXTENSIONS.join(", ")} file`);
		return path;
	}
	const entry = listBlueprints(cwd, read).find((e) => e.name === given);
	if (entry) return entry.file;
	const names = listBlueprints(cwd, read).map((e) => e.name);
	throw new BlueprintNotFound(
		`no blueprint "${given}": not a file (${path}) and not a name in .pi/blueprints/ or the package's blueprints/` +
			` (${names.length > 0 ? names.join(", ") : "none found"})`,
	);
}
