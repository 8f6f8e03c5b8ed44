// Puts the gh stand-in (gh-standin.mjs) on a PATH for tests: `dir/gh` is a shell script that execs this node with
// the stand-in (one process, so a timeout's kill reaches it), and the state file gets its first contents.
// Plain JS beside the stand-in, typed by gh-standin-install.d.mts.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

export const GH_STANDIN = fileURLToPath(new URL("./gh-standin.mjs", import.meta.url));

const quote = (text) => `'${text.replaceAll("'", `'\\''`)}'`;

/**
 * Creates `dir/gh` and writes the state file (`initial` over an empty state with repo owner/repo on main; an
 * existing file is kept unless `initial` is given). Returns the variables to add to gh's environment.
 */
export function installGhStandin(dir, statePath, initial) {
	mkdirSync(dir, { recursive: true });
	const gh = join(dir, "gh");
	writeFileSync(gh, `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(GH_STANDIN)} "$@"\n`);
	chmodSync(gh, 0o755);
	if (initial || !existsSync(statePath)) {
		const state = {
			repo: { nameWithOwner: "owner/repo", defaultBranch: "main" },
			issues: [],
			prs: [],
			calls: [],
			rejected: [],
			...initial,
		};
		writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`);
	}
	return { PATH: `${dir}${delimiter}${process.env.PATH ?? ""}`, GH_STANDIN_STATE: statePath };
}

/** The stand-in's state as it is now. */
export function readGhStandinState(statePath) {
	return JSON.parse(readFileSync(statePath, "utf8"));
}
