/** Unit tests: .pi/loop.json validation and the global/project merge. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, configProblems, DEFAULT_CONFIG, loadConfig } from "../../extensions/shared/config.ts";

let agentDir: string;
let project: string;
const saved = process.env.PI_CODING_AGENT_DIR;

beforeEach(() => {
	const root = mkdtempSync(join(tmpdir(), "pi-loop-config-"));
	agentDir = join(root, "agent");
	project = join(root, "project");
	mkdirSync(agentDir);
	mkdirSync(join(project, ".pi"), { recursive: true });
	process.env.PI_CODING_AGENT_DIR = agentDir;
});
afterEach(() => {
	if (saved === undefined) delete process.env.PI_CODING_AGENT_DIR;
	else process.env.PI_CODING_AGENT_DIR = saved;
});

describe("config", () => {
	it("uses defaults without files", () => {
		expect(loadConfig(project)).toEqual(DEFAULT_CONFIG);
	});
	it("merges the project file over the global one, key by key", () => {
		writeFileSync(
			join(agentDir, "loop.json"),
			JSON.stringify({ hydration: { budget: 8000, progressLines: 3 }, build: { commit: false } }),
		);
		writeFileSync(
			join(project, ".pi", "loop.json"),
			JSON.stringify({ hydration: { budget: 4000 }, paths: { specs: "docs/specs" } }),
		);
		const config = loadConfig(project);
		expect(config.hydration).toEqual({ budget: 4000, progressLines: 3 });
		expect(config.build).toEqual({ attempts: 2, commit: false });
		expect(config.paths.specs).toBe("docs/specs");
		expect(config.paths.plan).toBe("IMPLEMENTATION_PLAN.md");
	});
	it("names every bad key", () => {
		const problems = configProblems({
			paths: { spec: "x" },
			hydration: { budget: 10 },
			checks: { tests: 3 },
			extra: true,
		});
		expect(problems).toHaveLength(4);
		expect(problems).toEqual(
			expect.arrayContaining([
				'unknown key "extra"',
				'unknown key "paths.spec"',
				'key "hydration.budget": must be >= 500',
				'key "checks.tests": must be string',
			]),
		);
		expect(configProblems({ build: { attempts: 2 } })).toEqual([]);
	});
	it("normalizes paths and rejects ones outside the project", () => {
		writeFileSync(
			join(project, ".pi", "loop.json"),
			JSON.stringify({ paths: { specs: "./docs/specs/", plan: "./PLAN.md" } }),
		);
		expect(loadConfig(project).paths).toMatchObject({ specs: "docs/specs", plan: "PLAN.md" });
		writeFileSync(join(project, ".pi", "loop.json"), JSON.stringify({ paths: { specs: "../shared" } }));
		expect(() => loadConfig(project)).toThrow(
			/key "paths\.specs": must be a path inside the project, got "\.\.\/shared"/,
		);
		writeFileSync(join(project, ".pi", "loop.json"), JSON.stringify({ paths: { plan: "/etc/plan.md" } }));
		expect(() => loadConfig(project)).toThrow(/key "paths\.plan": must be a path inside the project/);
	});
	it("reports the file and the problem, for invalid JSON too", () => {
		writeFileSync(join(project, ".pi", "loop.json"), "{ nope");
		expect(() => loadConfig(project)).toThrow(ConfigError);
		expect(() => loadConfig(project)).toThrow(/\.pi\/loop\.json: not valid JSON/);
		writeFileSync(join(project, ".pi", "loop.json"), JSON.stringify({ build: { attempts: 0 } }));
		expect(() => loadConfig(project)).toThrow(/loop\.json: key "build\.attempts": must be >= 1/);
	});
});
