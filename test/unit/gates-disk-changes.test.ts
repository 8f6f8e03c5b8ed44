/**
 * Files changed behind the language server's back: created, changed and
 * deleted sources, build output and dependencies left out, and a capped
 * walk never reporting files past the cap as deleted.
 */
import { rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diffStamps, stampSources } from "../../extensions/gates/disk-changes.ts";
import { tempTree } from "../support/temp-tree.ts";

const tree = (files: Record<string, string>) => tempTree("pi-loop-gates-disk-", files);

describe("disk changes", () => {
	it("reports created, changed and deleted sources and config files, nothing else", () => {
		const root = tree({
			"src/a.ts": "a",
			"src/b.ts": "b",
			"tsconfig.json": "{}",
			"README.md": "r",
			".gitignore": "dist/\n",
			"dist/out.js": "o",
			"node_modules/x/index.js": "x",
			".cache/c.ts": "c",
		});
		const before = stampSources(root);
		expect([...before.files.keys()].map((p) => p.slice(root.length + 1)).sort()).toEqual([
			"src/a.ts",
			"src/b.ts",
			"tsconfig.json",
		]);
		writeFileSync(join(root, "src/a.ts"), "a changed");
		utimesSync(join(root, "src/a.ts"), new Date(), new Date(Date.now() + 5000));
		rmSync(join(root, "src/b.ts"));
		writeFileSync(join(root, "src/c.ts"), "c");
		writeFileSync(join(root, "dist/out.js"), "rebuilt");
		writeFileSync(join(root, "README.md"), "changed");
		const changes = diffStamps(before, stampSources(root)).map((c) => `${c.kind} ${c.path.slice(root.length + 1)}`);
		expect(changes.sort()).toEqual(["changed src/a.ts", "created src/c.ts", "deleted src/b.ts"]);
	});

	it("a walk stops at its cap and says so; a capped walk reports no deletions (the file may lie past the cap)", () => {
		const root = tree({ "a.ts": "a", "b.ts": "b", "c.ts": "c" });
		expect(stampSources(root, undefined, 2)).toMatchObject({ truncated: true });
		expect(stampSources(root)).toMatchObject({ truncated: false });
		const before = {
			files: new Map([
				["/p/a.ts", "1"],
				["/p/b.ts", "1"],
			]),
			truncated: true,
		};
		const after = {
			files: new Map([
				["/p/a.ts", "2"],
				["/p/c.ts", "1"],
			]),
			truncated: true,
		};
		expect(diffStamps(before, after)).toEqual([{ path: "/p/a.ts", kind: "changed" }]);
	});
});
