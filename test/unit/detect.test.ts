/** Unit tests: detection of the project's test/lint/type-check commands. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectCheck } from "../../extensions/core/detect-checks.ts";

function project(files: Record<string, string>): string {
	const dir = mkdtempSync(join(tmpdir(), "pi-loop-detect-"));
	for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
	return dir;
}

const pkg = (scripts: Record<string, string>) => JSON.stringify({ name: "x", scripts });

describe("detectCheck", () => {
	it("uses package.json scripts with the project's package manager", () => {
		const dir = project({ "package.json": pkg({ test: "vitest run", lint: "eslint .", typecheck: "tsc" }) });
		expect(detectCheck(dir, "tests")).toEqual({ command: "npm test", source: 'package.json script "test"' });
		expect(detectCheck(dir, "lint").command).toBe("npm run lint");
		expect(detectCheck(dir, "types").command).toBe("npm run typecheck");
		writeFileSync(join(dir, "pnpm-lock.yaml"), "");
		expect(detectCheck(dir, "tests").command).toBe("pnpm test");
	});
	it("falls back to tsc --noEmit for types when a tsconfig exists", () => {
		const dir = project({ "package.json": pkg({}), "tsconfig.json": "{}" });
		expect(detectCheck(dir, "types")).toEqual({ command: "npx tsc --noEmit", source: "tsconfig.json" });
	});
	it("skips npm's placeholder test script", () => {
		const dir = project({
			"package.json": pkg({ test: 'echo "Error: no test specified" && exit 1' }),
			Makefile: "test:\n\tnode t.js\n",
		});
		expect(detectCheck(dir, "tests")).toEqual({ command: "make test", source: 'Makefile target "test"' });
	});
	it.each([
		["Cargo.toml", ["cargo test", "cargo clippy", "cargo check"]],
		["go.mod", ["go test ./...", "go vet ./...", "go build ./..."]],
		["pyproject.toml", ["pytest", "ruff check", "mypy ."]],
	])("detects %s projects", (marker, commands) => {
		const dir = project({ [marker]: "" });
		expect(["tests", "lint", "types"].map((k) => detectCheck(dir, k as "tests").command)).toEqual(commands);
	});
	it("reads Makefile targets", () => {
		const dir = project({ Makefile: "VAR := 1\nlint:\n\truff .\ntypecheck: deps\n\tmypy\n" });
		expect(detectCheck(dir, "lint").command).toBe("make lint");
		expect(detectCheck(dir, "types").command).toBe("make typecheck");
		expect(() => detectCheck(dir, "tests")).toThrow(/no tests command found/);
	});
	it("names everything it looked for when nothing is found", () => {
		const dir = project({});
		expect(() => detectCheck(dir, "types")).toThrow(
			new RegExp(
				[
					'looked for a package.json script "typecheck", "type-check", "types", "check-types" ',
					String.raw`\(or a tsconfig.json\), Cargo.toml, go.mod, Python project files .* `,
					String.raw`and a Makefile target "typecheck", "types"\. Name the command yourself`,
				].join(""),
			),
		);
	});
	it("reports an unreadable package.json instead of guessing", () => {
		const dir = project({ "package.json": "{ nope" });
		expect(() => detectCheck(dir, "tests")).toThrow(/package.json .* is not valid JSON/);
	});
});
