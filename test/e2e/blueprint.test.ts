/**
 * End-to-end: `/loop run <blueprint>` on the real pi CLI (print and RPC modes)
 * with the scripted model: seed-style scripts, parallel spawns, resume from the
 * journal after a kill, limits, and load errors.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	events,
	LIB_FIXED,
	LIB_HALF_FIXED,
	makeFixture,
	readLoopState,
	requests,
	runPrint,
	setScript,
} from "../support/harness.ts";

function blueprint(fx: { project: string }, name: string, source: string): string {
	const dir = join(fx.project, ".pi", "blueprints");
	mkdirSync(dir, { recursive: true });
	writeFileSync(join(dir, name), source);
	return `.pi/blueprints/${name}`;
}

/** Written the way the seed writes loops: global factory, top-level await, spawnSync, a TS interface. */
const SEED_STYLE = `import { spawnSync } from "node:child_process";

interface Progress { attempts: number; lastOutput: string }
const progress: Progress = { attempts: 0, lastOutput: "" };

while (progress.attempts < 5) {
	const run = spawnSync("node", ["test.js"], { cwd: process.cwd(), encoding: "utf-8" });
	if (run.status === 0) {
		factory.observe.log("info", "tests pass", { attempts: progress.attempts });
		break;
	}
	progress.attempts++;
	progress.lastOutput = run.stdout;
	const result = await factory.spawn({
		agent: "fixer",
		systemPrompt: "You fix failing tests, one at a time.",
		prompt: "Fix the failing tests. Output:\\n" + run.stdout,
		model: "anthropic/claude-sonnet-4-6",
		step: progress.attempts,
	});
	if (result.exitCode !== 0) {
		factory.observe.log("error", "agent failed", { error: result.errorMessage });
		break;
	}
}
factory.state.attempts = progress.attempts;
`;

describe("/loop run (print mode)", () => {
	it("runs a seed-style script unchanged: it fixes the project and exits 0", async () => {
		const fx = makeFixture();
		setScript(fx, {
			steps: [
				{ write: { path: "lib.js", content: LIB_HALF_FIXED } },
				{ text: "fixed add" },
				{ write: { path: "lib.js", content: LIB_FIXED } },
				{ text: "fixed mul" },
			],
			costPerCall: 0.01,
		});
		const file = blueprint(fx, "seed.ts", SEED_STYLE);
		const result = await runPrint(fx, `/loop run ${file}`);
		expect(result.code, result.stderr).toBe(0);
		expect(readFileSync(join(fx.project, "lib.js"), "utf8")).toBe(LIB_FIXED);
		// The model the script names has no key here: one warning, then the session's model.
		expect(result.stderr.match(/model "anthropic\/claude-sonnet-4-6" skipped/g)?.length).toBe(1);
		const sent = requests(fx);
		expect(sent).toHaveLength(4);
		expect(sent[0]?.systemPrompt).toContain("You fix failing tests, one at a time.");
		expect(sent[0]?.messages[0]?.text).toContain("FAIL add(2, 3)");
		const state = readLoopState(fx);
		expect(state.reason).toBe("completed");
		expect(state.blueprint.values).toEqual({ attempts: 2 });
		expect(state.blueprint.spawns.map((s: { filesChanged: string[] }) => s.filesChanged)).toEqual([
			["lib.js"],
			["lib.js"],
		]);
		const ev = events(fx);
		expect(ev.filter((e) => e.type === "spawn_end").map((e) => e.cost)).toEqual([0.02, 0.02]);
		expect(ev.at(-1)).toMatchObject({ type: "run_end", reason: "completed", iterations: 2 });
		expect(ev.some((e) => e.type === "log" && e.message === "tests pass")).toBe(true);
		const report = readFileSync(join(fx.project, ".pi", "loop", "runs", state.runId, "report.md"), "utf8");
		expect(report).toContain("| 1 | fixer | 1 | faux/faux-1 |");
		expect(report).toContain("## Cost by agent");
	});
});
