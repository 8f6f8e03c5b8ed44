/**
 * Protected paths: `write`/`edit` targets that are refused with a reason —
 * anything outside the project root (symlinks resolved) and anything the
 * configured gitignore-style patterns match (`.git/`, `node_modules/`,
 * `.env*` by default).
 */
import { existsSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import ignore from "ignore";

/** The path as pi's file tools resolve it (a leading @ is stripped, ~ is home). */
function toolPath(cwd: string, path: string): string {
	const clean = path.startsWith("@") ? path.slice(1) : path;
	if (clean === "~" || clean.startsWith("~/")) return resolve(process.env.HOME ?? "/", clean.slice(2));
	return isAbsolute(clean) ? clean : resolve(cwd, clean);
}

/** Resolves symlinks along the longest existing prefix, so a link out of the project counts as outside. */
function realPath(path: string): string {
	let existing = path;
	const rest: string[] = [];
	while (!existsSync(existing) && dirname(existing) !== existing) {
		rest.unshift(existing.slice(dirname(existing).length + 1));
		existing = dirname(existing);
	}
	try {
		return resolve(realpathSync(existing), ...rest);
	} catch {
		return path;
	}
}

/** Why a write to `path` is refused, or undefined when it is allowed. */
export function protectedReason(cwd: string, path: string, patterns: string[]): string | undefined {
	if (typeof path !== "string" || path.trim() === "") return undefined; // pi's own validation reports it
	const root = realPath(resolve(cwd));
	const target = realPath(toolPath(cwd, path));
	const rel = relative(root, target);
	if (rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) {
		return `${path} is outside the project (${root}); writes there are blocked`;
	}
	const posixRel = rel.split(sep).join("/");
	const matcher = ignore().add(patterns);
	if (matcher.ignores(posixRel)) {
		const rule = patterns.find((p) => ignore().add(p).ignores(posixRel)) ?? patterns.join(", ");
		return `${posixRel} is a protected path (matches "${rule}" in gates.protectedPaths); writes there are blocked`;
	}
	return undefined;
}
