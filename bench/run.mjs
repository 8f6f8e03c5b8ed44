// npm run bench: prints each benchmark with its baseline side by side.
// BENCH=loop or BENCH=hydration runs one section.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hydrationBench } from "./hydration.mjs";
import { loopOverhead } from "./loop-overhead.mjs";

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
	console.log(`recall within 8,000 tokens, baseline:    ${h.baselineRecall.toFixed(2)}   (specs in path order until full)`);
	console.log(`goal query < 50 ms, update < 100 ms, recall >= 0.9 and >= 2x baseline: ${h.goalMet ? "met" : "NOT met"}`);
}
