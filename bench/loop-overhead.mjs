// Benchmark: harness overhead per loop iteration, /loop inside one pi
// process versus the classic bash Ralph loop (a new `pi -p --no-session`
// process per iteration), with an instant scripted model and a trivial
// check. Both run in the same invocation so the ratio compares like with like.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commitAll, createSandbox } from "../test/support/sandbox.mjs";

const CHECK = "test -f DONE";

function fixture(repo, name, iterations) {
	const { root, project, env } = createSandbox(`pi-loop-bench-${name}-`);
	writeFileSync(join(project, "README.md"), "bench\n");
	const steps = [];
	for (let i = 1; i <= iterations; i++)
		steps.push({ write: { path: "notes.md", content: `attempt ${i}\n` } }, { text: `attempt ${i}` });
	writeFileSync(join(root, "script.json"), JSON.stringify({ steps }));
	commitAll(project, env);
	return {
		project,
		env,
		pi: join(repo, "node_modules", ".bin", "pi"),
		model: join(repo, "test", "support", "scripted-model.ts"),
	};
}

function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** (a) one pi process runs /loop until for N iterations; per-iteration time from the event log. */
function inProcess(repo, iterations, persistSessions) {
	const fx = fixture(repo, "loop", iterations);
	const prompt = `/loop until "${CHECK}" --max ${iterations} --stagnation 100 --same-failure 100`;
	const sessionFlags = persistSessions ? [] : ["--no-session"];
	const run = spawnSync(fx.pi, ["-e", repo, "-e", fx.model, "--model", "faux/faux-1", ...sessionFlags, "-p", prompt], {
		cwd: fx.project,
		env: fx.env,
		encoding: "utf8",
	});
	if (run.status !== 1) throw new Error(`loop run failed unexpectedly (exit ${run.status}): ${run.stderr}`);
	const runs = join(fx.project, ".pi", "loop", "runs");
	const events = readFileSync(join(runs, readdirSync(runs)[0], "events.jsonl"), "utf8")
		.trim()
		.split("\n")
		.map((l) => JSON.parse(l));
	const starts = events.filter((e) => e.type === "iteration_start").map((e) => Date.parse(e.ts));
	const end = Date.parse(events.find((e) => e.type === "run_end").ts);
	if (starts.length !== iterations) throw new Error(`expected ${iterations} iterations, saw ${starts.length}`);
	return starts.map((t, i) => (starts[i + 1] ?? end) - t);
}

/** (b) the bash Ralph loop: a fresh `pi -p --no-session` process per iteration, then the check. */
function processPerIteration(repo, iterations) {
	const fx = fixture(repo, "bash", iterations);
	const times = [];
	for (let i = 0; i < iterations; i++) {
		const start = process.hrtime.bigint();
		spawnSync(fx.pi, ["-e", fx.model, "--model", "faux/faux-1", "--no-session", "-p", "Make `test -f DONE` pass."], {
			cwd: fx.project,
			env: fx.env,
		});
		spawnSync("/bin/sh", ["-c", CHECK], { cwd: fx.project });
		times.push(Number(process.hrtime.bigint() - start) / 1e6);
	}
	return times;
}

export function loopOverhead(repo, iterations = 20) {
	const ma = median(inProcess(repo, iterations, false));
	const mp = median(inProcess(repo, iterations, true));
	const mb = median(processPerIteration(repo, iterations));
	return {
		iterations,
		inProcessMedianMs: ma,
		persistedMedianMs: mp,
		bashLoopMedianMs: mb,
		ratio: mb / ma,
		goalMet: ma < 50 && mb / ma >= 20,
	};
}
