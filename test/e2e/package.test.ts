/**
 * End-to-end: the package installs and loads the way users get it —
 * `pi install <path>` into an isolated agent dir, then /loop without -e.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { events, LIB_FIXED, makeFixture, PI_BIN, REPO_ROOT, requests, SCRIPTED_MODEL, setScript } from "../support/harness.ts";

describe("package", () => {
	it("declares itself a pi package with its resources and peer dependencies", () => {
		const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
		expect(pkg.keywords).toContain("pi-package");
		expect(pkg.pi).toMatchObject({ extensions: ["./extensions/loop/index.ts", "./extensions/hydrate/index.ts", "./extensions/roles/index.ts", "./extensions/gates/index.ts"], skills: ["./skills"], prompts: ["./prompts"] });
		for (const name of ["@mariozechner/pi-coding-agent", "@mariozechner/pi-agent-core", "@mariozechner/pi-ai", "typebox"]) {
			expect(pkg.peerDependencies[name]).toBe("*");
			expect(pkg.devDependencies[name]).toMatch(/^\d+\.\d+\.\d+$/);
		}
	});

	it("works after `pi install <path>`", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }] });
		execFileSync(PI_BIN, ["install", REPO_ROOT], { cwd: fx.project, env: fx.env, stdio: "pipe" });
		const settings = JSON.parse(readFileSync(join(fx.agentDir, "settings.json"), "utf8"));
		// pi records local packages relative to the settings file when it can.
		expect((settings.packages as string[]).map((p) => resolve(fx.agentDir, p))).toContain(REPO_ROOT);
		const out = execFileSync(PI_BIN, ["-e", SCRIPTED_MODEL, "--model", "faux/faux-1", "-p", '/loop until "node test.js"'], {
			cwd: fx.project,
			env: fx.env,
			encoding: "utf8",
			stdio: "pipe",
		});
		expect(out).toBe("");
		expect(events(fx).at(-1)).toMatchObject({ reason: "passed" });
		expect(requests(fx)).toHaveLength(2);
	});
});
