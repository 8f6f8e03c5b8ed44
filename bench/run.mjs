// npm run bench: prints each benchmark with its baseline side by side.
// BENCH=loop, BENCH=hydration, BENCH=gates, BENCH=spawn or BENCH=waves runs one section.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gatesBench } from "./gates.mjs";
import { hydrationBench } from "./hydration.mjs";
import { loopOverhead } from "./loop-overhead.mjs";
import { spawnBench } from "./spawn.mjs";
import { wavesBench } from "./waves.mjs";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const only = process.env.BENCH;
const fmt = (ms) => `${ms.toFixed(1)} ms`;

if (!only || only === "loop") {
	console.log("== loop overhead per iteration (instant scripted model, check `test -f DONE`) ==");
	const r = loopOverhead(repo, Number(process.env.BENCH_ITERATIONS ?? 20));
	console.log(`iterations per side:                              ${r.iterations}`);
	console.log(`(a) /loop until inside one pi process, median:   ${fmt(r.inProcessMedianMs)}   (--no-session, as (b))`);
	console.log(`    the same with session files written, median: ${fmt(r.persistedMedianMs)}`);
	console.log(`(b) bash Ralph loop, pi -p per iteration, median: ${fmt(r.bashLoopMedianMs)}`);
	console.log(`ratio (b)/(a):                                    ${r.ratio.toFixed(1)}x`);
	console.log(`goal (a) < 50 ms and ratio >= 20x:                ${r.goalMet ? "met" : "NOT met"}`);
	console.log("");
}

if (!only || only === "hydration") {
	console.log("== context hydration (synthetic corpus, fixed seed) ==");
	const h = await hydrationBench(repo);
	console.log(`corpus:                                  ${h.files} spec files, ${h.corpusMB.toFixed(1)} MB`);
	console.log(`index build (cold):                      ${fmt(h.buildMs)}`);
	console.log(`incremental update after one file edit:  ${fmt(h.updateMs)} median of 9 (max ${fmt(h.updateMaxMs)})`);
	console.log(`query, median (max) over ${h.queries}:            ${fmt(h.queryMedianMs)} (${fmt(h.queryMaxMs)})`);
	console.log(`whole hydration per task, median:        ${fmt(h.hydrateMedianMs)}`);
	console.log(`recall within 8,000 tokens, hydrator:    ${h.recall.toFixed(2)}`);
	console.log(
		`recall within 8,000 tokens, baseline:    ${h.baselineRecall.toFixed(2)}   (specs in path order until full)`,
	);
	console.log(
		`goal query < 50 ms, update < 100 ms, recall >= 0.9 and >= 2x baseline: ${h.goalMet ? "met" : "NOT met"}`,
	);
	console.log("");
}

if (!only || only === "gates") {
	console.log("== edit to diagnostics, warm language server vs tsc --noEmit (generated strict project) ==");
	const g = await gatesBench(repo);
	const line = (s) => `p50 ${fmt(s.p50Ms)}, p95 ${fmt(s.p95Ms)} over ${s.runs} edits`;
	console.log(
		`project:                                 ${g.files} files, ${g.edits} one-file edits (type error in, then out)`,
	);
	console.log(`(a) warm language server:                ${line(g.server)}   (${g.server.label})`);
	console.log(`(b) tsc --noEmit, TypeScript ${g.tsc7.version}:      ${line(g.tsc7)}   (the server's own TypeScript)`);
	console.log(`    tsc --noEmit, TypeScript ${g.tsc5.version}:      ${line(g.tsc5)}`);
	console.log(`ratio p50 (b)/(a), TypeScript 7 / 5:     ${g.ratio7.toFixed(1)}x / ${g.ratio5.toFixed(1)}x`);
	console.log(
		`goal p50 < 100 ms and >= 10x faster than tsc --noEmit: ${g.goalMet ? "met" : "NOT met"}   (against TypeScript 7)`,
	);
	console.log(`(c) the project's own TypeScript ${g.tsc5.version}:    ${line(g.own5)}   (${g.own5.label})`);
	console.log(`ratio p50 tsc ${g.tsc5.version} / (c):             ${g.ratioOwn5.toFixed(1)}x`);
	console.log(
		`goal (c) p50 < 50 ms and >= 30x faster than tsc --noEmit ${g.tsc5.version}: ${g.goalOwn5Met ? "met" : "NOT met"}`,
	);
	console.log(`(d) Python, ${g.pyFiles} modules, warm server:   ${line(g.python)}   (${g.python.label})`);
	console.log(`    pyright ${g.pyright.version} CLI per edit:        ${line(g.pyright)}`);
	console.log(`ratio p50 pyright CLI / (d):             ${g.ratioPython.toFixed(1)}x`);
	console.log(`goal (d) p50 < 50 ms and >= 30x faster than the pyright CLI: ${g.goalPythonMet ? "met" : "NOT met"}`);
	console.log("");
}

if (!only || only === "spawn") {
	console.log("== agent spawn overhead, factory.spawn in one pi process vs a pi process per step (scripted model) ==");
	const s = await spawnBench(repo, Number(process.env.BENCH_SPAWNS ?? 20));
	const a = s.inProcess;
	const c = s.parallel;
	const row = (label, value) => console.log(`${label.padEnd(49)} ${value}`);
	row("steps per side:", s.steps);
	if (a.unavailable) console.log(`in-process side unavailable: ${a.unavailable}`);
	else {
		row("(a) /loop run, sequential factory.spawn, median:", `${fmt(a.medianMs)}   (spawn_end durationMs)`);
		row(`    whole pi process wall time / ${s.steps}:`, fmt(a.wallPerStepMs));
		if (a.failedSpawns) row("    spawns that ended with exitCode 1:", a.failedSpawns);
		if (a.note) row("    note:", a.note);
	}
	row("(b) pi --mode json -p per step, median:", `${fmt(s.baselineMs)}   (process wall time)`);
	row("ratio (b)/(a):", a.unavailable ? "-" : `${s.ratio.toFixed(1)}x`);
	row("goal ratio >= 20x:", s.goalMet ? "met" : "NOT met");
	if (c.unavailable) console.log(`in-process side unavailable: ${c.unavailable}`);
	else {
		row(
			`(c) ${s.concurrent} parallel spawns, answers in ${s.delayMs} ms:`,
			`${fmt(c.wallMs)}   (first spawn_start to last spawn_end)`,
		);
		row("    model requests at once, most:", `${c.overlap} of ${c.requests}`);
		if (c.note) row("    note:", c.note);
	}
	row("goal (c) < 1.5 s:", s.parallelGoalMet ? "met" : "NOT met");
}

if (!only || only === "waves") {
	console.log("");
	console.log("== parallel-items: 4 independent items in waves, model answering after 2 s per call ==");
	const w = await wavesBench(repo);
	const row = (label, value) => console.log(`${label.padEnd(49)} ${value}`);
	const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
	row("items, model calls per item:", `${w.items}, 2 (write, then answer), ${w.delayMs} ms each`);
	for (const [label, r] of [
		["(a) --parallel 4", w.parallel],
		["(b) --parallel 1 (sequential)", w.sequential],
	]) {
		if (r.unavailable) {
			row(`${label}:`, `unavailable: ${r.unavailable}`);
			continue;
		}
		row(`${label}, run time:`, `${s(r.runMs)}   (blueprint_start to run_end; ${r.waves} wave(s))`);
		row("    pi process wall time:", s(r.wallMs));
		row("    agents' part of the waves:", `${s(r.agentsMs)}   (wave's phase event to its last spawn_end, summed)`);
		row("    merge-back per item:", `${fmt(r.mergePerItemMs)}   (factory.merge step: last spawn_end to merge events)`);
		row("    tick + commit per item:", `${fmt(r.tickPerItemMs)}   (git status, then git add + commit)`);
	}
	row("ratio (b)/(a), run time:", w.ratio === undefined ? "-" : `${w.ratio.toFixed(2)}x`);
	row("ratio (b)/(a), process wall time:", w.wallRatio === undefined ? "-" : `${w.wallRatio.toFixed(2)}x`);
	row("ratio (b)/(a), agents' part only:", w.agentsRatio === undefined ? "-" : `${w.agentsRatio.toFixed(2)}x`);
	row("goal run-time ratio >= 3x:", w.goalMet ? "met" : "NOT met");
}
