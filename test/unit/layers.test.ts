/**
 * Unit tests: the layer rules in biome.json (faces → kinds → core → services
 * → shared) refuse the crossings they name and allow the imports they must:
 * probe files with one import each are linted with the project's config in
 * a temp tree laid out like the package.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/harness.ts";

const CASES: [file: string, from: string, allowed: boolean][] = [
	["extensions/core/a.ts", "../loop/engine.ts", false],
	["extensions/core/b.ts", "../gates/runtime.ts", false],
	["extensions/core/c.ts", "../shared/notify.ts", true],
	["extensions/shared/a.ts", "../roles/roles.ts", false],
	["extensions/shared/b.ts", "./notify.ts", true],
	["extensions/gates/a.ts", "../loop/engine.ts", false],
	["extensions/gates/b.ts", "../roles/switcher.ts", false],
	["extensions/gates/c.ts", "../core/process-liveness.ts", false],
	["extensions/gates/d.ts", "../core/check-runner.ts", true],
	["extensions/gates/e.ts", "../core/detect-checks.ts", true],
	["extensions/hydrate/a.ts", "../gates/runtime.ts", false],
	["extensions/roles/a.ts", "../hydrate/hydrator.ts", false],
	["extensions/loop/engine.ts", "./view.ts", false],
	["extensions/loop/types.ts", "./args.ts", false],
	["extensions/loop/stop-rules.ts", "./prompt.ts", false],
	["extensions/loop/workflows/a.ts", "../report.ts", false],
	["extensions/loop/prompt.ts", "./view.ts", false],
	["extensions/loop/workflows/b.ts", "../check-text.ts", true],
	["extensions/loop/commands.ts", "./view.ts", true],
	["extensions/loop/setup.ts", "../hydrate/spec-index.ts", true],
	["extensions/loop/intake/a.ts", "../commands.ts", false],
	["extensions/loop/intake/b.ts", "../../gates/runtime.ts", false],
	["extensions/loop/intake/c.ts", "../../core/github.ts", true],
	["extensions/loop/intake/d.ts", "../../shared/notify.ts", true],
	["extensions/loop/intake/e.ts", "./task-source.ts", true],
];

describe("layer rules", () => {
	it("refuse each crossing with the rule's words and allow the rest", () => {
		const root = mkdtempSync(join(tmpdir(), "pi-loop-layers-"));
		copyFileSync(join(REPO_ROOT, "biome.json"), join(root, "biome.json"));
		for (const [file, from] of CASES) {
			mkdirSync(dirname(join(root, file)), { recursive: true });
			writeFileSync(join(root, file), `import { x } from "${from}";\nexport const y = x;\n`);
		}
		const biome = join(REPO_ROOT, "node_modules", ".bin", "biome");
		const run = spawnSync(biome, ["lint", "--max-diagnostics=200", "extensions"], { cwd: root, encoding: "utf8" });
		const output = `${run.stdout}${run.stderr}`;
		const refused = new Set([...output.matchAll(/^(\S+):\d+:\d+ lint\/style\/noRestrictedImports/gm)].map((m) => m[1]));
		expect(Object.fromEntries(CASES.map(([file]) => [file, !refused.has(file)]))).toEqual(
			Object.fromEntries(CASES.map(([file, , allowed]) => [file, allowed])),
		);
		const message = "core imports only core and shared (layers: faces → kinds → core → services → shared)";
		expect(output).toContain(message);
	});
});
