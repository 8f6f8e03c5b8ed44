/**
 * Commits a finished item — only the files it changed and its checklist —
 * with a subject naming the item. Never pushes. Returns the commit id or why not.
 */
import { execFile } from "node:child_process";

function git(cwd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
	return new Promise((resolve) => {
		execFile("git", args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
			resolve({ ok: !error, out: (error ? stderr || error.message : stdout).trim() }),
		);
	});
}

export function commitSubject(item: string): string {
	const flat = item.replace(/\s+/g, " ").trim();
	return `loop: ${flat.length > 66 ? `${flat.slice(0, 65)}…` : flat}`;
}

/**
 * Commits exactly `paths` (the item's changed files and the checklist): other changes in the work
 * tree or index — the user's own work — stay out of the commit. `body` gets the diff being committed.
 */
export async function commitItem(
	cwd: string,
	item: string,
	paths: string[],
	body: (diff: string) => Promise<string>,
): Promise<{ commit?: string; error?: string }> {
	const inside = await git(cwd, ["rev-parse", "--is-inside-work-tree"]);
	if (!inside.ok) return { error: "not a git repository" };
	const add = await git(cwd, ["add", "-A", "--", ...paths]);
	if (!add.ok) return { error: `git add failed: ${add.out}` };
	const diff = await git(cwd, ["diff", "--cached", "--no-color", "--no-ext-diff", "--", ...paths]);
	const commit = await git(cwd, [
		"commit",
		"-q",
		"-m",
		commitSubject(item),
		"-m",
		await body(diff.out),
		"--only",
		"--",
		...paths,
	]);
	if (!commit.ok) return { error: `git commit failed: ${commit.out}` };
	const head = await git(cwd, ["rev-parse", "--short", "HEAD"]);
	return { commit: head.out };
}
