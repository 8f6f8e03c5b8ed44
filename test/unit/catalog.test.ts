/**
 * Unit tests: which blueprint `/loop run <name|file>` means — a path, else a name from `.pi/blueprints/`, then the
 * package's `blueprints/` — and the listing with summaries.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BlueprintNotFound } from "../../extensions/loop/blueprint/blueprint-errors.ts";
import { listBlueprints, PACKAGE_BLUEPRINTS, resolveBlueprint } from "../../extensions/loop/blueprint/catalog.ts";
import { REPO_ROOT } from "../support/harness.ts";
import { tempTree } from "../support/temp-tree.ts";

const read = (file: string) => readFileSync(file, "utf8");

const project = () =>
	tempTree("catalog-", {
		".pi/blueprints/mine.ts":
			"/**\n * mine: the project's own blueprint.\n * More text.\n */\nawait factory.exec('ls');\n",
		".pi/blueprints/one-line.mjs": "/** one-line: a short one. */\nexport default () => {};\n",
		".pi/blueprints/bare.js": "await factory.exec('ls');\n",
		".pi/blueprints/lint-fixer.ts": "/* lint-fixer: the project's version */\n",
		".pi/blueprints/types.d.ts": "export {};\n",
		".pi/blueprints/notes.md": "# not a blueprint\n",
		"scripts/run.ts": "// a script by path\n",
		"scripts/readme.txt": "text\n",
	});

describe("listBlueprints", () => {
	it("lists project blueprints first, then the package's, sorted, with script files only", () => {
		const cwd = project();
		const entries = listBlueprints(cwd, read);
		const projectNames = entries.filter((e) => e.source === "project").map((e) => e.name);
		expect(projectNames).toEqual(["bare", "lint-fixer", "mine", "one-line"]);
		expect(entries.slice(0, 4).every((e) => e.source === "project")).toBe(true);
		const packageNames = entries.filter((e) => e.source === "package").map((e) => e.name);
		expect(packageNames).toContain("until-tests-pass");
		expect(packageNames).toEqual([...packageNames].sort());
		expect(entries.find((e) => e.name === "mine")?.file).toBe(join(cwd, ".pi", "blueprints", "mine.ts"));
	});

	it("lets a project blueprint hide the package's one of the same name", () => {
		const entries = listBlueprints(project(), read).filter((e) => e.name === "lint-fixer");
		expect(entries).toHaveLength(1);
		expect(entries[0]?.source).toBe("project");
	});

	it("takes the first line of the header comment as the summary", () => {
		const byName = new Map(listBlueprints(project(), read).map((e) => [e.name, e.summary]));
		expect(byName.get("mine")).toBe("mine: the project's own blueprint.");
		expect(byName.get("one-line")).toBe("one-line: a short one.");
		expect(byName.get("lint-fixer")).toBe("lint-fixer: the project's version");
		expect(byName.get("bare")).toBeUndefined();
		expect(byName.get("until-tests-pass")).toMatch(/^until-tests-pass: /);
	});

	it("lists every package blueprint when the project has none", () => {
		const entries = listBlueprints(tempTree("catalog-empty-", {}), read);
		const shipped = readdirSync(join(REPO_ROOT, "blueprints"))
			.filter((f) => f.endsWith(".ts"))
			.map((f) => f.replace(/\.ts$/, ""))
			.sort();
		expect(entries.map((e) => e.name)).toEqual(shipped);
		expect(entries.every((e) => e.source === "package" && e.summary)).toBe(true);
		expect(PACKAGE_BLUEPRINTS).toBe(join(REPO_ROOT, "blueprints"));
	});
});

describe("resolveBlueprint", () => {
	it("takes a path relative to the project, or absolute", () => {
		const cwd = project();
		expect(resolveBlueprint(cwd, "scripts/run.ts", read)).toBe(join(cwd, "scripts", "run.ts"));
		expect(resolveBlueprint(cwd, join(cwd, "scripts", "run.ts"), read)).toBe(join(cwd, "scripts", "run.ts"));
	});

	it("refuses a path that is a folder or not a script", () => {
		const cwd = project();
		expect(() => resolveBlueprint(cwd, "scripts", read)).toThrow(BlueprintNotFound);
		expect(() => resolveBlueprint(cwd, "scripts", read)).toThrow(`${join(cwd, "scripts")} is not a file`);
		expect(() => resolveBlueprint(cwd, "scripts/readme.txt", read)).toThrow(
			"scripts/readme.txt: a blueprint is a .ts, .mts, .js, .mjs file",
		);
	});

	it("finds a name in .pi/blueprints/ before the package's blueprints/", () => {
		const cwd = project();
		expect(resolveBlueprint(cwd, "mine", read)).toBe(join(cwd, ".pi", "blueprints", "mine.ts"));
		expect(resolveBlueprint(cwd, "lint-fixer", read)).toBe(join(cwd, ".pi", "blueprints", "lint-fixer.ts"));
		expect(resolveBlueprint(cwd, "until-tests-pass", read)).toBe(join(PACKAGE_BLUEPRINTS, "until-tests-pass.ts"));
	});

	it("names what exists when nothing matches", () => {
		const cwd = project();
		let message = "";
		try {
			resolveBlueprint(cwd, "nope", read);
		} catch (error) {
			expect(error).toBeInstanceOf(BlueprintNotFound);
			message = (error as Error).message;
		}
		expect(message).toContain(`no blueprint "nope": not a file (${join(cwd, "nope")})`);
		expect(message).toContain("not a name in .pi/blueprints/ or the package's blueprints/");
		expect(message).toMatch(/\(bare, lint-fixer, mine, one-line, .*until-tests-pass.*\)$/);
		expect(message).not.toContain("types");
	});
});
