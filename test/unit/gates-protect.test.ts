/** Unit tests: which write/edit targets are refused (protect.ts). */
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { protectedReason } from "../../extensions/gates/protect.ts";
import { DEFAULT_CONFIG } from "../../extensions/shared/config.ts";

const DEFAULTS = DEFAULT_CONFIG.gates.protectedPaths;
let root: string;
let project: string;
let outside: string;

beforeEach(() => {
	root = mkdtempSync(join(tmpdir(), "pi-loop-gates-protect-"));
	project = join(root, "project");
	outside = join(root, "outside");
	mkdirSync(join(project, "src"), { recursive: true });
	mkdirSync(outside);
});

const reason = (path: string, patterns = DEFAULTS) => protectedReason(project, path, patterns);

describe("protectedReason with the default patterns", () => {
	it.each([
		[".git/config", ".git"],
		["packages/x/node_modules/y.js", "node_modules/"],
		["node_modules/.bin/tsc", "node_modules/"],
		[".env", ".env*"],
		[".env.local", ".env*"],
		["config/.env.production", ".env*"],
	])("blocks %s (rule %s)", (path, rule) => {
		expect(reason(path)).toBe(
			`${path} is a protected path (matches "${rule}" in gates.protectedPaths); writes there are blocked`,
		);
	});
	it(".envrc matches .env* too (gitignore semantics: * is any suffix)", () => {
		expect(reason(".envrc")).toMatch(/matches "\.env\*"/);
	});
	it.each([
		"src/env.ts",
		"src/index.ts",
		"README.md",
		".gitignore",
		".github/workflows/ci.yml",
		"docs/node_modules.md",
		"new/dir/file.ts",
	])("allows %s", (path) => {
		expect(reason(path)).toBeUndefined();
	});
	it("blocks paths outside the project: .., absolute, home", () => {
		expect(reason("../x")).toBe(`../x is outside the project (${project}); writes there are blocked`);
		expect(reason("src/../../x.ts")).toMatch(/is outside the project/);
		expect(reason(join(outside, "a.ts"))).toMatch(/is outside the project/);
		expect(reason("/etc/passwd")).toMatch(/is outside the project/);
		expect(reason("~/.bashrc")).toMatch(/is outside the project/);
	});
	it("allows an absolute path inside the project, and a name that only starts with ..", () => {
		expect(reason(join(project, "src", "a.ts"))).toBeUndefined();
		expect(reason("..foo.ts")).toBeUndefined();
	});
	it("the project root itself is not a file to write", () => {
		expect(reason(".")).toMatch(/is the project directory itself, not a file/);
	});
	it("blocks through a symlink inside the project that points outside", () => {
		symlinkSync(outside, join(project, "link"));
		writeFileSync(join(outside, "existing.ts"), "");
		symlinkSync(join(outside, "existing.ts"), join(project, "file-link.ts"));
		expect(reason("link/new.ts")).toMatch(/^link\/new\.ts is outside the project/);
		expect(reason("link/deeper/new.ts")).toMatch(/is outside the project/);
		expect(reason("file-link.ts")).toMatch(/is outside the project/);
	});
	it("follows a symlink that stays inside the project and applies the patterns to its target", () => {
		mkdirSync(join(project, ".git"));
		symlinkSync(join(project, ".git"), join(project, "gitdir"));
		symlinkSync(join(project, "src"), join(project, "code"));
		expect(reason("gitdir/config")).toMatch(/^\.git\/config is a protected path/);
		expect(reason("code/a.ts")).toBeUndefined();
	});
	it("works when the project is reached through a symlink", () => {
		const alias = join(root, "alias");
		symlinkSync(project, alias);
		expect(protectedReason(alias, "src/a.ts", DEFAULTS)).toBeUndefined();
		expect(protectedReason(alias, join(project, "src/a.ts"), DEFAULTS)).toBeUndefined();
		expect(protectedReason(alias, ".env", DEFAULTS)).toMatch(/protected path/);
	});
	// Writing through a dangling link creates its target, so the target is what counts.
	it("blocks a dangling symlink whose target is outside the project", () => {
		symlinkSync(join(outside, "not-yet.ts"), join(project, "dangling.ts"));
		expect(existsSync(join(outside, "not-yet.ts"))).toBe(false);
		expect(reason("dangling.ts")).toMatch(/is outside the project/);
	});
	it("strips a leading @ as pi's tools do", () => {
		expect(reason("@.env")).toMatch(/^\.env is a protected path/);
		expect(reason("@src/a.ts")).toBeUndefined();
		expect(reason("@../x")).toMatch(/is outside the project/);
	});
	it("leaves an empty path to pi's own validation", () => {
		expect(reason("")).toBeUndefined();
		expect(reason("  ")).toBeUndefined();
	});
});

describe("protectedReason with configured patterns", () => {
	it("uses only the given patterns", () => {
		expect(reason("secrets/key.pem", ["secrets/"])).toMatch(/matches "secrets\/"/);
		expect(reason("app/secrets/key.pem", ["secrets/"])).toMatch(/matches "secrets\/"/);
		expect(reason(".env", ["secrets/"])).toBeUndefined();
		expect(reason(".git/config", ["secrets/"])).toBeUndefined();
	});
	it("names the pattern that matched among several", () => {
		expect(reason("dist/a.js", ["secrets/", "dist/", "*.pem"])).toMatch(/matches "dist\/"/);
		expect(reason("a/b.pem", ["secrets/", "dist/", "*.pem"])).toMatch(/matches "\*\.pem"/);
	});
	it("an empty list blocks only what is outside the project", () => {
		expect(reason(".git/config", [])).toBeUndefined();
		expect(reason(".env", [])).toBeUndefined();
		expect(reason("../x", [])).toMatch(/is outside the project/);
	});
});

describe("the gates' own configuration", () => {
	it(".pi/loop.json is always protected, whatever the list says", () => {
		const root = mkdtempSync(join(tmpdir(), "pi-loop-gates-own-"));
		expect(protectedReason(root, ".pi/loop.json", [])).toBe(
			".pi/loop.json holds the gates' own configuration; the agent cannot change it (edit it yourself)",
		);
		expect(protectedReason(root, ".pi/loop/state.json", [])).toBeUndefined();
	});
});
