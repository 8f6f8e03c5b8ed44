// Benchmark: agent steps run in-process by a blueprint (`/loop run <file>`, factory.spawn in one pi process) versus
// a `pi --mode json -p` process per step, with the instant scripted model; then 8 parallel spawns against a model
// that answers after 1 s (--concurrency 8), which should take about as long as one. All sides run in the same
// invocation. The in-process sides report "unavailable" with the reason when `/loop run` fails or leaves no events.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchProject, jsonLines, runPi } from "./pi-run.mjs";

const PARALLEL_DELAY_MS = 1000;

function fixture(repo, name, script, blueprints = {}) {
	return benchProject(repo, name, script, ({ project }) => {
		for (const [file, text] of Object.entries(blueprints)) {
			mkdirSync(join(project, ".pi", "blueprints"), { recursive: true });
			writeFileSync(join(project, ".pi", "blueprints", file), text);
		}
	});
}

function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Why a run failed, on one line: the first line naming an error (pi prints usage after it), else the last lines. */
function reason(text) {
	const lines = text
		.split("\n")
		.map((l) => l.trim())
		.filter(Boolean);
	const named = lines.find((l) => /error|^loop:/i.test(l));
	const kept = named ?? (lines.slice(-3).join(" | ") || "(no output)");
	return kept.length > 300 ? `${kept.slice(0, 300)}…` : kept;
}

/** (b) one `pi --mode json -p` process per step, sequential; wall time of each. */
function processPerStep(repo, steps) {
	const fx = fixture(repo, "spawn-proc", { steps: [], fallback: { text: "done" } });
	const times = [];
	for (let i = 0; i < steps; i++) {
		const { run, wallMs } = runPi(fx, ["--no-session", "--mode", "json", "-p", `step ${i}`]);
		times.push(wallMs);
		if (run.status !== 0) throw new Error(`pi -p step ${i} failed (exit ${run.status}): ${reason(run.stderr)}`);
	}
	if (jsonLines(fx.logPath).length !== steps) throw new Error(`expected ${steps} model requests`);
	return times;
}

/**
 * Runs `/loop run .pi/blueprints/<file>` in one pi process; returns its wall time and the run's events, or
 * { unavailable } with the reason.
 */
function loopRun(fx, file, flags, expectedSpawns) {
	const prompt = [`/loop run .pi/blueprints/${file}`, ...flags].join(" ");
	const { run, wallMs } = runPi(fx, ["--no-session", "-p", prompt]);
	const failed = `exit ${run.status}: ${reason(`${run.stdout}\n${run.stderr}`)}`;
	const runs = join(fx.project, ".pi", "loop", "runs");
	const ids = existsSync(runs) ? readdirSync(runs) : [];
	if (ids.length !== 1) return { unavailable: `${ids.length} run directories under .pi/loop/runs (${failed})` };
	const events = jsonLines(join(runs, ids[0], "events.jsonl"));
	const ends = events.filter((e) => e.type === "spawn_end");
	if (ends.length !== expectedSpawns)
		return { unavailable: `expected ${expectedSpawns} spawn_end events, saw ${ends.length} (${failed})` };
	const note = run.status === 0 ? "" : `pi exited ${run.status}`;
	return { wallMs, events, ends, note };
}

const SEQUENTIAL = (steps) =>
	`for (let i = 0; i < ${steps}; i++) await factory.spawn({ agent: "b", prompt: "step " + i });\n`;
const PARALLEL = (n) =>
	`await Promise.all(Array.from({ length: ${n} }, (_, i) => factory.spawn({ agent: "p" + i, prompt: "par " + i })));\n`;

/** (a) `steps` sequential factory.spawn calls in one pi process: median spawn_end durationMs. */
function inProcess(repo, steps) {
	const script = { steps: [], fallback: { text: "done" } };
	const fx = fixture(repo, "spawn-seq", script, { "bench-seq.ts": SEQUENTIAL(steps) });
	const run = loopRun(fx, "bench-seq.ts", [], steps);
	if (run.unavailable) return run;
	return {
		medianMs: median(run.ends.map((e) => e.durationMs)),
		wallPerStepMs: run.wallMs / steps,
		failedSpawns: run.ends.filter((e) => e.exitCode !== undefined && e.exitCode !== 0).length,
		note: run.note,
	};
}

/** The most model requests that were waiting for their answers at one time (the log and its .ends sidecar). */
function maxOverlap(logPath) {
	const ends = new Map(jsonLines(`${logPath}.ends`).map((e) => [e.call, e.endedAt]));
	const marks = jsonLines(logPath).flatMap((r) => [
		[r.startedAt, 1],
		[ends.get(r.call) ?? Number.POSITIVE_INFINITY, -1],
	]);
	marks.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
	let open = 0;
	let most = 0;
	for (const [, step] of marks) {
		open += step;
		most = Math.max(most, open);
	}
	return most;
}

/** (c) `n` concurrent spawns, the model answering after 1 s: first spawn_start to last spawn_end. */
function parallel(repo, n) {
	const script = { steps: [], fallback: { text: "done" }, delayMs: PARALLEL_DELAY_MS };
	const fx = fixture(repo, "spawn-par", script, { "bench-par.ts": PARALLEL(n) });
	const run = loopRun(fx, "bench-par.ts", ["--concurrency", String(n)], n);
	if (run.unavailable) return run;
	const ts = (type) => run.events.filter((e) => e.type === type).map((e) => Date.parse(e.ts));
	return {
		wallMs: Math.max(...ts("spawn_end")) - Math.min(...ts("spawn_start")),
		overlap: maxOverlap(fx.logPath),
		requests: jsonLines(fx.logPath).length,
		note: run.note,
	};
}

export async function spawnBench(repo, steps = 20, concurrent = 8) {
	const baselineMs = median(processPerStep(repo, steps));
	const seq = inProcess(repo, steps);
	const par = parallel(repo, concurrent);
	const ratio = seq.unavailable ? undefined : baselineMs / seq.medianMs;
	return {
		steps,
		concurrent,
		delayMs: PARALLEL_DELAY_MS,
		baselineMs,
		inProcess: seq,
		parallel: par,
		ratio,
		goalMet: ratio !== undefined && ratio >= 20,
		parallelGoalMet: !par.unavailable && par.wallMs < 1500,
	};
}
