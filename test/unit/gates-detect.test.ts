/** Unit tests: the gates a project gets when its config does not name them (detect.ts). */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { detectGates, rustEdition } from "../../extensions/gates/detect.ts";
import { tempTree } from "../support/temp-tree.ts";

const JS_LIKE = "**/*.{js,jsx,mjs,cjs,ts,tsx,mts,cts}";
/** PATH for the test: an empty directory unless a test puts a binary there. */
let pathDir: string;

beforeEach(() => {
	pathDir = mkdtempSync(join(tmpdir(), "pi-loop-gates-path-"));
	vi.stubEnv("PATH", pathDir);
});
afterEach(() => {
	vi.unstubAllEnvs();
});

/** A temp project with these files; a value of null is an empty executable (e.g. node_modules/.bin/prettier). */
const project = (files: Record<string, string | null>) => tempTree("pi-loop-gates-detect-", files);

const pkg = (body: Record<string, unknown>) => JSON.stringify({ name: "x", ...body });

describe("detectGates onWrite: formatter", () => {
	it("prettier from .prettierrc with the project's own binary", () => {
		const dir = project({ ".prettierrc": "{}", "node_modules/.bin/prettier": null });
		expect(detectGates(dir, "onWrite")).toEqual([
			{
				name: "prettier",
				command: "node_modules/.bin/prettier --write {files}",
				glob: "**/*.{js,jsx,mjs,cjs,ts,tsx,mts,cts,json,css,scss,less,md,yaml,yml,html,vue}",
				source: ".prettierrc",
			},
		]);
	});
	it("prettier without a binary anywhere is detected but unavailable", () => {
		const [gate, ...rest] = detectGates(project({ ".prettierrc.json": "{}" }), "onWrite");
		expect(rest).toEqual([]);
		expect(gate).toMatchObject({ name: "prettier", command: "prettier --write {files}", source: ".prettierrc.json" });
		expect(gate?.unavailable).toMatch(/prettier is not installed/);
		expect(gate?.unavailable).toContain("node_modules/.bin or PATH");
	});
	it("prettier found on PATH runs by its full path", () => {
		writeFileSync(join(pathDir, "prettier"), "", { mode: 0o755 });
		const [gate] = detectGates(project({ "prettier.config.mjs": "export default {}" }), "onWrite");
		expect(gate?.command).toBe(`${join(pathDir, "prettier")} --write {files}`);
		expect(gate?.unavailable).toBeUndefined();
	});
	it("a PATH entry with a space is quoted", () => {
		const spaced = join(pathDir, "my tools");
		mkdirSync(spaced);
		writeFileSync(join(spaced, "prettier"), "", { mode: 0o755 });
		vi.stubEnv("PATH", spaced);
		const [gate] = detectGates(project({ ".prettierrc": "{}" }), "onWrite");
		expect(gate?.command).toBe(`'${join(spaced, "prettier")}' --write {files}`);
	});
	it('a "prettier" key in package.json counts as a prettier config', () => {
		const [gate] = detectGates(
			project({ "package.json": pkg({ prettier: { semi: false } }), "node_modules/.bin/prettier": null }),
			"onWrite",
		);
		expect(gate).toMatchObject({
			name: "prettier",
			source: 'package.json "prettier"',
			command: "node_modules/.bin/prettier --write {files}",
		});
	});
	it("a package.json without that key is no prettier project", () => {
		expect(detectGates(project({ "package.json": pkg({}), "node_modules/.bin/prettier": null }), "onWrite")).toEqual(
			[],
		);
	});
	it("biome from biome.json", () => {
		const [gate] = detectGates(project({ "biome.json": "{}", "node_modules/.bin/biome": null }), "onWrite");
		expect(gate).toEqual({
			name: "biome",
			command: "node_modules/.bin/biome format --write {files}",
			glob: "**/*.{js,jsx,mjs,cjs,ts,tsx,mts,cts,json,jsonc,css}",
			source: "biome.json",
		});
	});
	it("prettier wins over biome when both are configured", () => {
		const gates = detectGates(project({ ".prettierrc": "{}", "biome.json": "{}" }), "onWrite");
		expect(gates.map((g) => g.name)).toEqual(["prettier"]);
	});
	it("gofmt comes from PATH only (never node_modules)", () => {
		const [cargo] = detectGates(project({ "Cargo.toml": "[package]\nname='x'\nedition='2021'\n" }), "onWrite");
		expect(cargo).toMatchObject({
			name: "rustfmt",
			glob: "**/*.rs",
			unavailable: "rustfmt is not installed (not on PATH)",
		});
		// File by file through stdin, with the crate's edition (rustfmt alone assumes 2015).
		expect(cargo?.command).toBe(
			`rc=0; for f in {files}; do out=$(rustfmt --edition 2021 < "$f") && ` +
				`printf '%s\\n' "$out" > "$f" || rc=1; done; exit $rc`,
		);
		const [gate] = detectGates(project({ "go.mod": "module x", "node_modules/.bin/gofmt": null }), "onWrite");
		expect(gate).toMatchObject({ name: "gofmt", command: "gofmt -w {files}", glob: "**/*.go", source: "go.mod" });
		expect(gate?.unavailable).toBe("gofmt is not installed (not on PATH)");
	});
	it("ruff from a [tool.ruff] section of pyproject.toml, not from any pyproject.toml", () => {
		expect(
			detectGates(project({ "pyproject.toml": "[project]\nname='x'\n" }), "onWrite").filter((g) => g.command),
		).toEqual([]);
		const [gate] = detectGates(project({ "pyproject.toml": "[tool.ruff]\nline-length = 100\n" }), "onWrite");
		expect(gate).toMatchObject({ name: "ruff", command: "ruff format {files}", source: "pyproject.toml [tool.ruff]" });
	});
	it("nothing for a project without markers", () => {
		expect(detectGates(project({ "README.md": "# x" }), "onWrite")).toEqual([]);
	});
});

describe("detectGates onWrite: TypeScript language server", () => {
	it("from tsconfig.json, after the formatter", () => {
		const gates = detectGates(
			project({ "tsconfig.json": "{}", ".prettierrc": "{}", "node_modules/.bin/prettier": null }),
			"onWrite",
		);
		expect(gates.map((g) => g.name)).toEqual(["prettier", "typescript"]);
		expect(gates[1]).toEqual({
			name: "typescript",
			languageServer: "typescript",
			glob: JS_LIKE,
			source: "tsconfig.json",
		});
	});
	it("from jsconfig.json", () => {
		expect(detectGates(project({ "jsconfig.json": "{}" }), "onWrite")).toEqual([
			{ name: "typescript", languageServer: "typescript", glob: JS_LIKE, source: "jsconfig.json" },
		]);
	});
});

describe("detectGates onDone", () => {
	it("types, lint and tests from package.json scripts", () => {
		const dir = project({
			"package.json": pkg({ scripts: { test: "vitest run", lint: "eslint .", typecheck: "tsc -p ." } }),
		});
		expect(detectGates(dir, "onDone")).toEqual([
			{ name: "types", command: "npm run typecheck", source: 'package.json script "typecheck"' },
			{ name: "lint", command: "npm run lint", source: 'package.json script "lint"' },
			{ name: "tests", command: "npm test", source: 'package.json script "test"' },
		]);
	});
	it("only the scripts that exist", () => {
		const dir = project({ "package.json": pkg({ scripts: { lint: "eslint ." } }) });
		expect(detectGates(dir, "onDone").map((g) => g.name)).toEqual(["lint"]);
	});
	it("a tsconfig-only types check runs the project's own tsc", () => {
		const dir = project({ "package.json": pkg({}), "tsconfig.json": "{}", "node_modules/.bin/tsc": null });
		expect(detectGates(dir, "onDone")).toEqual([
			{ name: "types", command: "node_modules/.bin/tsc --noEmit", source: "tsconfig.json" },
		]);
	});
	it("a tsconfig-only types check is skipped without node_modules/.bin/tsc (npx would reach for the network)", () => {
		const dir = project({ "package.json": pkg({ scripts: { test: "vitest run" } }), "tsconfig.json": "{}" });
		expect(detectGates(dir, "onDone").map((g) => g.name)).toEqual(["tests"]);
	});
	it("an invalid package.json gives one unavailable gate instead of three", () => {
		const gates = detectGates(project({ "package.json": "{ nope" }), "onDone");
		expect(gates).toHaveLength(1);
		expect(gates[0]).toMatchObject({ name: "package.json", source: "package.json" });
		expect(gates[0]?.unavailable).toMatch(/package\.json in .* is not valid JSON/);
	});
	it("other ecosystems through the loop's detection", () => {
		expect(detectGates(project({ "Cargo.toml": "" }), "onDone").map((g) => g.command)).toEqual([
			"cargo check",
			"cargo clippy",
			"cargo test",
		]);
	});
	it("nothing for a project without markers", () => {
		expect(detectGates(project({}), "onDone")).toEqual([]);
	});
});

describe("detectGates onTurnEnd", () => {
	it("is never detected", () => {
		const dir = project({
			"package.json": pkg({ scripts: { test: "vitest run" } }),
			"tsconfig.json": "{}",
			".prettierrc": "{}",
		});
		expect(detectGates(dir, "onTurnEnd")).toEqual([]);
	});
});

describe("detectGates onWrite: diagnostic servers", () => {
	it("TypeScript of the project's own, whatever its version, gets a language-server gate that can run", () => {
		for (const version of ["5.9.3", "7.0.2"]) {
			const [gate] = detectGates(
				project({ "tsconfig.json": "{}", "node_modules/typescript/package.json": JSON.stringify({ version }) }),
				"onWrite",
			);
			expect(gate).toEqual({
				name: "typescript",
				languageServer: "typescript",
				glob: JS_LIKE,
				source: "tsconfig.json",
			});
		}
	});
	it.each([["pyproject.toml"], ["setup.py"], ["setup.cfg"], ["requirements-dev.txt"]])("python from %s", (marker) => {
		expect(detectGates(project({ [marker]: "" }), "onWrite")).toEqual([
			{ name: "python", languageServer: "python", glob: "**/*.{py,pyi}", source: marker },
		]);
	});
	it("go from go.mod and rust from Cargo.toml, after their formatters", () => {
		expect(detectGates(project({ "go.mod": "module x\n" }), "onWrite").map((g) => g.name)).toEqual(["gofmt", "go"]);
		expect(detectGates(project({ "Cargo.toml": "[package]\n" }), "onWrite").map((g) => g.name)).toEqual([
			"rustfmt",
			"rust",
		]);
	});
});

describe("rustEdition", () => {
	it.each([
		['[package]\nname = "x"\nedition = "2021"\n', "2021"],
		['[package]\nname = "x"\n\n[dependencies]\nedition = "2018"\n', "2015"],
		['[workspace]\nmembers = ["a"]\n\n[workspace.package]\nedition = "2024"\n', "2024"],
		['[workspace]\nmembers = ["a"]\n', "2021"],
	])("Cargo.toml %j → %s", (toml, edition) => {
		expect(rustEdition(project({ "Cargo.toml": toml }))).toBe(edition);
	});
});
