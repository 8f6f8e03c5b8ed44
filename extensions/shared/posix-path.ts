/** `to` relative to `from`, with forward slashes (how globs, gitignore rules and messages name project files). */
import { relative, sep } from "node:path";

export function posixRelative(from: string, to: string): string {
	const rel = relative(from, to);
	return sep === "/" ? rel : rel.split(sep).join("/");
}
