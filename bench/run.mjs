// npm run bench: prints each benchmark with its baseline side by side.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loopOverhead } from "./loop-overhead.mjs";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fmt = (ms) => `${ms.toFixed(1)} ms`;

console.log("== loop overhead per iteration (instant scripted model, check `test -f DONE`) ==");
const r = loopOverhead(repo, Number(process.env.BENCH_ITERATIONS ?? 20));
console.log(`iterations per side:                          ${r.iterations}`);
console.log(`(a) /loop until inside one pi process, median:   ${fmt(r.inProcessMedianMs)}   (--no-session, as (b))`);
console.log(`    the same with session files written, median:   ${fmt(r.persistedMedianMs)}`);
console.log(`(b) bash Ralph loop, pi -p per iteration, median: ${fmt(r.bashLoopMedianMs)}`);
console.log(`ratio (b)/(a):                                 ${r.ratio.toFixed(1)}x`);
console.log(`goal (a) < 50 ms and ratio >= 20x:             ${r.goalMet ? "met" : "NOT met"}`);
