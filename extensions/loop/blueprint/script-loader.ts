/**
 * Loads and runs a blueprint script with jiti: TypeScript syntax, top-level
 * await and node built-ins work, `factory` is a global while the script
 * runs, and a default-exported function is called with (factory, args).
 * Syntax and module-resolution problems are BlueprintLoadErrors naming
 * file:line (usage errors); anything the script throws while running is its own.
 */
import { readFileSync } from "node:fs";
import { createJiti } from "jiti";
import type { Factory } from "../../core/factory-api.ts";
import { BlueprintLoadError } from "./blueprint-errors.ts";

const jiti = () => createJiti(import.meta.url, { moduleCache: false, fsCache: false, interopDefault: false });

interface JitiError {
	line?: number;
	column?: number;
	message?: string;
}

/** Throws a BlueprintLoadError (file:line:column) when the script does not parse. */
export function checkSyntax(file: string): void {
	const source = readFileSync(file, "utf8");
	// jiti reports a parse error as code that throws it: `exports.__JITI_ERROR__ = {…}`.
	const code = jiti().transform({ source, filename: file, ts: /\.m?ts$/.test(file) });
	const marker = /__JITI_ERROR__ = (\{.*\})/.exec(code);
	if (!marker) return;
	let error: JitiError = {};
	try {
		error = JSON.parse(marker[1] as string) as JitiError;
	} catch {
		// keep the generic message
	}
	const where = error.line !== undefined ? `:${error.line}:${error.column ?? 0}` : "";
	throw new BlueprintLoadError(`${file}${where}: syntax error: ${(error.message ?? "cannot parse").trim()}`);
}

const MODULE_ERRORS = new Set(["ERR_MODULE_NOT_FOUND", "MODULE_NOT_FOUND", "ERR_PACKAGE_PATH_NOT_EXPORTED"]);

type GlobalWithFactory = typeof globalThis & { factory?: Factory };

/**
 * Runs the script to its end. The promise settles when the top-level code (and a
 * default-exported function, if any) has finished; what they throw comes through.
 */
export async function runScript(
	file: string,
	factory: Factory,
	args: string[],
	options: { syntaxChecked?: boolean } = {},
): Promise<void> {
	if (!options.syntaxChecked) checkSyntax(file);
	const global = globalThis as GlobalWithFactory;
	const previous = global.factory;
	global.factory = factory;
	try {
		let loaded: { default?: unknown };
		try {
			loaded = (await jiti().import(file)) as { default?: unknown };
		} catch (error) {
			const code = (error as { code?: string }).code;
			if (code && MODULE_ERRORS.has(code)) throw new BlueprintLoadError(`${file}: ${(error as Error).message}`);
			throw error;
		}
		if (typeof loaded?.default === "function")
			await (loaded.default as (f: Factory, a: string[]) => unknown)(factory, args);
	} finally {
		global.factory = previous;
	}
}
