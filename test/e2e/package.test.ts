/**
 * End-to-end: the package installs and loads the way users get it —
 * `pi install <path>` into an isolated agent dir, then /loop without -e.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
	events,
	HOST_PROBE,
	LIB_FIXED,
	makeFixture,
	piCommand,
	REPO_ROOT,
	requests,
	runPrint,
	SCRIPTED_MODEL,
	setScript,
} from "../support/harness.ts";

describe("package", () => {
	it("declares itself a pi package with its resources and peer dependencies", () => {
		const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
		expect(pkg.keywords).toContain("pi-package");
		expect(pkg.pi).toMatchObject({
			extensions: [
				"./extensions/loop/index.ts",
				"./extensions/hydrate/index.ts",
				"./extensions/roles/index.ts",
				"./extensions/gates/index.ts",
			],
			skills: ["./skills"],
			prompts: ["./prompts"],
		});
		for (const name of [
			"@mariozechner/pi-coding-agent",
			"@mariozechner/pi-agent-core",
			"@mariozechner/pi-ai",
			"typebox",
		]) {
			expect(pkg.peerDependencies[name]).toBe("*");
			expect(pkg.devDependencies[name]).toMatch(/^\d+\.\d+\.\d+$/);
		}
		// pi 1.x's names: peers too, optional so that installing beside pi 0.73 asks for nothing.
		for (const name of ["pi-coding-agent", "pi-agent-core", "pi-ai", "pi-tui"].map((n) => `@earendil-works/${n}`)) {
			expect(pkg.peerDependencies[name]).toBe("*");
			expect(pkg.peerDependenciesMeta[name]).toEqual({ optional: true });
			expect(pkg.dependencies[name]).toBeUndefined();
		}
	});

	it("works after `pi install <path>`", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ write: { path: "lib.js", content: LIB_FIXED } }, { text: "fixed" }] });
		execFileSync(...piCommand(["install", REPO_ROOT]), { cwd: fx.project, env: fx.env, stdio: "pipe" });
		const settings = JSON.parse(readFileSync(join(fx.agentDir, "settings.json"), "utf8"));
		// pi records local packages relative to the settings file when it can.
		expect((settings.packages as string[]).map((p) => resolve(fx.agentDir, p))).toContain(REPO_ROOT);
		const loop = ["-e", SCRIPTED_MODEL, "--model", "faux/faux-1", "-p", '/loop until "node test.js"'];
		const out = execFileSync(...piCommand(loop), {
			cwd: fx.project,
			env: fx.env,
			encoding: "utf8",
			stdio: "pipe",
		});
		expect(out).toBe("");
		expect(events(fx).at(-1)).toMatchObject({ reason: "passed" });
		expect(requests(fx)).toHaveLength(2);
	});

	it("its @mariozechner/* imports reach the running pi's own modules, not a copy in node_modules", () => {
		const fx = makeFixture();
		// pi 0.73 prints its version on stderr, pi 1.x on stdout.
		const printed = spawnSync(...piCommand(["--version"]), { env: fx.env, encoding: "utf8" });
		const version = `${printed.stdout}${printed.stderr}`.trim();
		expect(version).toMatch(/^\d+\.\d+\.\d+$/);
		const run = spawnSync(...piCommand(["-e", REPO_ROOT, "-e", HOST_PROBE, "--list-models"]), {
			cwd: fx.project,
			env: fx.env,
			encoding: "utf8",
		});
		expect(run.stderr).toContain(`host-probe: @mariozechner/pi-coding-agent ${version}\n`);
	});

	it("its skills reach the model's system prompt; the first message is the user's prompt", async () => {
		const fx = makeFixture();
		setScript(fx, { steps: [{ text: "hi" }] });
		const result = await runPrint(fx, "hello");
		expect(result.code, result.stderr).toBe(0);
		const [first] = requests(fx);
		expect(first?.systemPrompt).toContain("ralph-loop");
		expect(first?.systemPrompt).toContain("spec-writing");
		expect(first?.messages[0]).toEqual({ role: "user", text: "hello" });
	});
});
