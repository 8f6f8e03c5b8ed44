/**
 * Protected paths: `write`/`edit` targets that are refused with a reason —
 * anything outside the project root (symlinks resolved) and anything the
 * configured gitignore-style patterns match (`.git/`, `node_modules/`,
 * `.env*` by default).
 */
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import ignore from "ignore";
import { posixRelative } from "../shared/posix-path.ts";

/** The path as pi's file tools resolve it (a leading @ is stripped, ~ is home). */
export function toolPath(cwd: string, path: string): string {
	const clean = path.startsWith("@") ? path.slice(1) : path;
	if (clean === "~" || clean.startsWith("~/")) return resolve(process.env.HOME ?? "/", clean.slice(2));
	return isAbsolute(clean) ? clean : resolve(cwd, clean);
}

/**
 * Resolves symlinks the way a write would follow them: every existing
 * component, and a dangling link's target too (writing through it creates
 * the target), so a link out of the project counts as outside.
 */
function realPath(path: string, hops = 0): string {
	try {
		return realpathSync(path);
	} catch {
		// missing, or a link to something missing
	}
	try {
		if (hops < 40 && lstatSync(path).isSymbolicLink())
			return realPath(resolve(dirname(path), readlinkSync(path)), hops + 1);
	} catch {
		// not there at all
	}
	const parent = dirname(path);
	return parent === path ? path : join(realPath(parent, hops), basename(path));
}

/** Why a write to `path` is refused, or undefined when it is allowed. */
export function protectedReason(cwd: string, path: string, patterns: string[]): string | undefined {
	if (typeof path !== "string" || path.trim() === "") return undefined; // pi's own validation reports it
	const root = realPath(resolve(cwd));
	const target = realPath(toolPath(cwd, path));
	const rel = relative(root, target);
	if (rel === "") return `${path} is the project directory itself, not a file`;
	if (rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) {
		return `${path} is outside the project (${root}); writes there are blocked`;
	}
	const posixRel = posixRelative(root, target);
	if (posixRel === ".pi/loop.json")
		return `${posixRel} holds the gates' own configuration; the agent cannot change it (edit it yourself)`;
	const matcher = ignore().add(patterns);
	if (matcher.ignores(posixRel)) {
		const rule = patterns.find((p) => ignore().add(p).ignores(posixRel)) ?? patterns.join(", ");
		return `${posixRel} is a protected path (matches "${rule}" in gates.protectedPaths); writes there are blocked`;
	}
	return undefined;
}
