/** Unit tests: the `gates` config section (merge, validation) and the plan built from it (plan.ts). */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_TIMEOUT, planGates } from "../../extensions/gates/plan.ts";
import { ConfigError, DEFAULT_CONFIG, globProblem, loadConfig } from "../../extensions/shared/config.ts";

let agentDir: string;
let project: string;

beforeEach(() => {
	const root = mkdtempSync(join(tmpdir(), "pi-loop-gates-config-"));
	[agentDir, project] = [join(root, "agent"), join(root, "project")];
	for (const dir of [agentDir, join(project, ".pi")]) mkdirSync(dir, { recursive: true });
	vi.stubEnv("PI_CODING_AGENT_DIR", agentDir);
});
afterEach(() => {
	vi.unstubAllEnvs();
});

const writeGlobal = (config: unknown) => writeFileSync(join(agentDir, "loop.json"), JSON.stringify(config));
const writeProject = (config: unknown) => writeFileSync(join(project, ".pi", "loop.json"), JSON.stringify(config));
/** The ConfigError message loadConfig throws for a project file holding `gates`. */
function gatesError(gates: unknown): string {
	writeProject({ gates });
	try {
		loadConfig(project);
	} catch (error) {
		expect(error).toBeInstanceOf(ConfigError);
		return (error as Error).message;
	}
	throw new Error(`no ConfigError for ${JSON.stringify(gates)}`);
}

describe("gates config: defaults and merge", () => {
	it("defaults: enabled, 2 rounds, .git/ node_modules/ .env* protected, every kind left to detection", () => {
		const gates = loadConfig(project).gates;
		expect(gates).toEqual({ enabled: true, rounds: 2, protectedPaths: [".git", "node_modules/", ".env*"] });
		expect(gates.onWrite).toBeUndefined();
		expect(gates.onDone).toBeUndefined();
	});
	it("merges the project gates over the global ones key by key", () => {
		writeGlobal({ gates: { rounds: 5, onDone: [{ name: "global-tests", command: "make test" }] } });
		writeProject({ gates: { onWrite: [{ name: "fmt", command: "fmt {files}", glob: "**/*.go" }] } });
		const gates = loadConfig(project).gates;
		expect(gates.rounds).toBe(5);
		expect(gates.onDone).toEqual([{ name: "global-tests", command: "make test" }]);
		expect(gates.onWrite).toEqual([{ name: "fmt", command: "fmt {files}", glob: "**/*.go" }]);
		expect(gates.enabled).toBe(true);
		expect(gates.protectedPaths).toEqual([".git", "node_modules/", ".env*"]);
	});
	it("a kind set in the project replaces the global list of that kind as a whole", () => {
		writeGlobal({
			gates: {
				onDone: [
					{ name: "a", command: "a" },
					{ name: "b", command: "b" },
				],
				protectedPaths: ["secrets/"],
			},
		});
		writeProject({ gates: { onDone: [{ name: "c", command: "c" }], protectedPaths: [] } });
		const gates = loadConfig(project).gates;
		expect(gates.onDone).toEqual([{ name: "c", command: "c" }]);
		expect(gates.protectedPaths).toEqual([]);
	});
	it("loading does not change the defaults", () => {
		writeProject({ gates: { rounds: 0, enabled: false, protectedPaths: ["x/"] } });
		expect(loadConfig(project).gates).toEqual({ enabled: false, rounds: 0, protectedPaths: ["x/"] });
		expect(DEFAULT_CONFIG.gates).toEqual({
			enabled: true,
			rounds: 2,
			protectedPaths: [".git", "node_modules/", ".env*"],
		});
	});
});

describe("gates config: errors name the key", () => {
	it("an unknown key inside a gate", () => {
		expect(gatesError({ onDone: [{ name: "t", cmd: "npm test" }] })).toMatch(/unknown key "gates\.onDone\.0\.cmd"/);
	});
	it("an unknown key in the section", () => {
		expect(gatesError({ onSave: [] })).toMatch(/unknown key "gates\.onSave"/);
	});
	it("a wrong type", () => {
		expect(gatesError({ rounds: "2" })).toMatch(/key "gates\.rounds": must be integer/);
		expect(gatesError({ enabled: "yes" })).toMatch(/key "gates\.enabled": must be boolean/);
		expect(gatesError({ rounds: 11 })).toMatch(/key "gates\.rounds": must be <= 10/);
		expect(gatesError({ onWrite: [{ name: "x", command: "x", timeout: 0 }] })).toMatch(
			/key "gates\.onWrite\.0\.timeout"/,
		);
	});
	it("the file that has the problem", () => {
		writeGlobal({ gates: { rounds: -1 } });
		expect(() => loadConfig(project)).toThrow(`${join(agentDir, "loop.json")}: key "gates.rounds": must be >= 0`);
	});
	it("both or neither of command and languageServer", () => {
		const exactlyOne = /key "gates\.onWrite\.0": give exactly one of "command" or "languageServer"/;
		expect(gatesError({ onWrite: [{ name: "ts", command: "tsc", languageServer: "typescript" }] })).toMatch(exactlyOne);
		expect(gatesError({ onWrite: [{ name: "ts" }] })).toMatch(exactlyOne);
	});
	it("a language server outside onWrite", () => {
		expect(gatesError({ onDone: [{ name: "ts", languageServer: "typescript" }] })).toMatch(
			/key "gates\.onDone\.0\.languageServer": language servers run on write only/,
		);
		expect(gatesError({ onTurnEnd: [{ name: "ts", languageServer: "typescript" }] })).toMatch(
			/key "gates\.onTurnEnd\.0\.languageServer"/,
		);
	});
	it("a duplicate name within one kind, but not across kinds", () => {
		const message = gatesError({
			onDone: [
				{ name: "t", command: "a" },
				{ name: "t", command: "b" },
			],
		});
		expect(message).toMatch(/key "gates\.onDone\.1\.name": "t" is used twice in onDone/);
		writeProject({ gates: { onTurnEnd: [{ name: "t", command: "a" }], onDone: [{ name: "t", command: "b" }] } });
		expect(loadConfig(project).gates.onDone).toHaveLength(1);
	});
	it.each([
		["src/[ab.ts", 'has an unclosed "["'],
		["**/*.{ts,tsx", 'has an unclosed "{"'],
		["src/}*.ts", 'has a "}" without "{"'],
		["/src/**/*.ts", "is absolute"],
		["src/../../x/*.ts", "leaves the project (..)"],
	])("a bad glob %s", (glob, problem) => {
		const message = gatesError({ onWrite: [{ name: "fmt", command: "fmt {files}", glob }] });
		expect(message).toContain(`key "gates.onWrite.0.glob": "${glob}" ${problem}`);
	});
	it("a bad protectedPaths entry, by index", () => {
		const message = gatesError({ protectedPaths: ["ok/", "../outside"] });
		expect(message).toContain('key "gates.protectedPaths.1": "../outside" leaves the project (..)');
		expect(message).not.toContain("protectedPaths.0");
		expect(gatesError({ protectedPaths: [""] })).toMatch(/key "gates\.protectedPaths\.0"/);
	});
	it("every problem of a file at once", () => {
		const message = gatesError({
			protectedPaths: ["../etc"],
			onDone: [{ name: "a" }, { name: "b", command: "b", glob: "{" }],
		});
		expect(message).toContain('key "gates.protectedPaths.0"');
		expect(message).toContain('key "gates.onDone.0"');
		expect(message).toContain('key "gates.onDone.1.glob"');
	});
});

describe("globProblem", () => {
	it.each(["**/*.{ts,tsx}", "src/[ab].ts", "src/\\{literal.ts", "*.md", "..foo/*.ts", ".env*", "[{]*.ts", "[}]x"])(
		"accepts %s",
		(glob) => {
			expect(globProblem(glob)).toBeUndefined();
		},
	);
	it("rejects a Windows drive path as absolute", () => {
		expect(globProblem("C:\\src\\*.ts")).toMatch(/is absolute/);
	});
	it("rejects a bare ..", () => {
		expect(globProblem("..")).toMatch(/leaves the project/);
	});
});

describe("glob normalization", () => {
	it("drops a leading ./ from gate globs and anchors ./ protected paths at the root", () => {
		writeProject({
			gates: {
				onWrite: [{ name: "fmt", command: "fmt {files}", glob: "./src/*.ts" }],
				protectedPaths: ["./secrets/", "/build/", "*.pem"],
			},
		});
		const { gates } = loadConfig(project);
		expect(gates.onWrite?.[0]?.glob).toBe("src/*.ts");
		expect(gates.protectedPaths).toEqual(["/secrets/", "/build/", "*.pem"]);
	});
});

describe("planGates", () => {
	it("a broken config turns every gate off and keeps the error", () => {
		writeFileSync(join(project, "package.json"), JSON.stringify({ scripts: { test: "vitest run" } }));
		writeProject({ gates: { onDone: [{ name: "t" }] } });
		const plan = planGates(project);
		expect(plan.enabled).toBe(false);
		expect(plan.gates).toEqual([]);
		expect(plan.configError).toMatch(/key "gates\.onDone\.0": give exactly one/);
		expect(plan.rounds).toBe(2);
		expect(plan.protectedPaths).toEqual([".git", "node_modules/", ".env*"]);
	});
	it("invalid JSON also turns gates off", () => {
		writeFileSync(join(project, ".pi", "loop.json"), "{ nope");
		const plan = planGates(project);
		expect(plan).toMatchObject({ enabled: false, gates: [] });
		expect(plan.configError).toMatch(/not valid JSON/);
	});
	it("onDone: [] means no onDone gates even with a test script", () => {
		writeFileSync(join(project, "package.json"), JSON.stringify({ scripts: { test: "vitest run" } }));
		expect(
			planGates(project)
				.gates.filter((g) => g.kind === "onDone")
				.map((g) => g.name),
		).toEqual(["tests"]);
		writeProject({ gates: { onDone: [] } });
		const plan = planGates(project);
		expect(plan.configError).toBeUndefined();
		expect(plan.gates.filter((g) => g.kind === "onDone")).toEqual([]);
	});
	it("a kind left out is detected; a configured kind comes from the config", () => {
		writeFileSync(join(project, "package.json"), JSON.stringify({ scripts: { test: "vitest run", lint: "eslint ." } }));
		writeProject({ gates: { rounds: 1, onTurnEnd: [{ name: "quick", command: "make quick", timeout: 30 }] } });
		const plan = planGates(project);
		expect(plan).toMatchObject({ enabled: true, rounds: 1 });
		expect(plan.gates).toEqual([
			{ name: "quick", command: "make quick", timeout: 30, kind: "onTurnEnd", source: "config", origin: "config" },
			{
				name: "lint",
				command: "npm run lint",
				source: 'package.json script "lint"',
				kind: "onDone",
				timeout: 600,
				origin: "detected",
			},
			{
				name: "tests",
				command: "npm test",
				source: 'package.json script "test"',
				kind: "onDone",
				timeout: 600,
				origin: "detected",
			},
		]);
	});
	it("default timeouts per kind", () => {
		expect(DEFAULT_TIMEOUT).toEqual({ onWrite: 15, onTurnEnd: 120, onDone: 600 });
		writeProject({
			gates: {
				onWrite: [{ name: "w", command: "w" }],
				onTurnEnd: [{ name: "t", command: "t" }],
				onDone: [
					{ name: "d", command: "d" },
					{ name: "e", command: "e", timeout: 5 },
				],
			},
		});
		expect(planGates(project).gates.map((g) => [g.kind, g.name, g.timeout])).toEqual([
			["onWrite", "w", 15],
			["onTurnEnd", "t", 120],
			["onDone", "d", 600],
			["onDone", "e", 5],
		]);
	});
	it("enabled: false is carried with the gates still listed", () => {
		writeProject({ gates: { enabled: false, onDone: [{ name: "d", command: "d" }] } });
		const plan = planGates(project);
		expect(plan.enabled).toBe(false);
		expect(plan.configError).toBeUndefined();
		expect(plan.gates.map((g) => g.name)).toEqual(["d"]);
	});
});
