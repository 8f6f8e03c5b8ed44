// Benchmark: the shipped `parallel-items` blueprint on 4 independent checklist items, with a scripted model that
// answers every call after 2 s (each item is two calls: write its file, then the final answer), (a) in one wave
// (`--parallel 4`) versus (b) one item at a time (`--parallel 1`), same invocation. Each side: the pi process's wall
// time and the run's own time (blueprint_start to run_end in events.jsonl, pi's start-up left out); and the
// merge-back cost per item: a wave's `factory.merge` step, from the wave's last spawn_end to its merge events (the
// events are written when the step returns), summed over the waves and divided by the items merged. The agents' part
// of the waves (the wave's phase event to its last spawn_end: worktrees, sessions, model calls, worktree commits) is
// reported on its own, since merges of one wave run one after another by design.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchProject, jsonLines, runPi } from "./pi-run.mjs";

const DELAY_MS = 2000;
const ITEMS = ["one", "two", "three", "four"].map((name) => ({ name, text: `add ${name}.js exporting ${name}` }));

function fixture(repo, side) {
	const script = {
		steps: [],
		delayMs: DELAY_MS,
		routes: ITEMS.map((item) => ({
			match: item.text,
			steps: [
				{ write: { path: `${item.name}.js`, content: `module.exports = "${item.name}";\n` } },
				{ text: `${item.name}.js written` },
			],
		})),
	};
	return benchProject(repo, `waves-${side}`, script, ({ root, project, env }) => {
		env.XDG_CACHE_HOME = join(root, "cache");
		writeFileSync(join(project, "PRD.md"), ["# PRD", "", ...ITEMS.map((item) => `- [ ] ${item.text}`), ""].join("\n"));
	});
}

/** One `/loop run parallel-items` with `--parallel n`: its times, or { unavailable } with the reason. */
function side(repo, n) {
	const fx = fixture(repo, `p${n}`);
	const prompt = `/loop run parallel-items -- PRD.md --parallel ${n}`;
	const { run, wallMs } = runPi(fx, ["--no-session", "-p", prompt]);
	const tail = `${run.stdout}\n${run.stderr}`.trim().split("\n").slice(-3).join(" | ");
	if (run.status !== 0) return { unavailable: `pi exited ${run.status}: ${tail}` };
	const prd = readFileSync(join(fx.project, "PRD.md"), "utf8");
	const open = ITEMS.filter((item) => !prd.includes(`- [x] ${item.text}`));
	if (open.length > 0) return { unavailable: `${open.length} item(s) not ticked: ${tail}` };
	const runs = join(fx.project, ".pi", "loop", "runs");
	const events = jsonLines(join(runs, readdirSync(runs)[0], "events.jsonl"));
	const at = (e) => Date.parse(e.ts);
	const first = (type) => events.find((e) => e.type === type);
	const runMs = at(first("run_end")) - at(first("blueprint_start"));
	// Per wave: a phase event, its spawns, then its merge events.
	let mergeMs = 0;
	let agentsMs = 0;
	let merged = 0;
	let lastSpawnEnd;
	let waveStart;
	let waves = 0;
	for (const [i, e] of events.entries()) {
		if (e.type === "phase") waveStart = at(e);
		if (e.type === "spawn_end") lastSpawnEnd = at(e);
		if (e.type === "merge") {
			merged++;
			if (events[i - 1]?.type !== "merge") {
				waves++;
				mergeMs += at(e) - lastSpawnEnd;
				agentsMs += lastSpawnEnd - waveStart;
			}
		}
	}
	const ticks = events.filter((e) => e.type === "exec" && /^git (status|add)/.test(e.command));
	return {
		wallMs,
		runMs,
		waves,
		requests: jsonLines(fx.env.LOOP_FAUX_LOG).length,
		agentsMs,
		mergePerItemMs: mergeMs / merged,
		tickPerItemMs: ticks.reduce((sum, e) => sum + e.durationMs, 0) / ITEMS.length,
	};
}

export async function wavesBench(repo) {
	const parallel = side(repo, ITEMS.length);
	const sequential = side(repo, 1);
	const ok = !parallel.unavailable && !sequential.unavailable;
	const ratio = ok ? sequential.runMs / parallel.runMs : undefined;
	const wallRatio = ok ? sequential.wallMs / parallel.wallMs : undefined;
	const agentsRatio = ok ? sequential.agentsMs / parallel.agentsMs : undefined;
	return {
		items: ITEMS.length,
		delayMs: DELAY_MS,
		parallel,
		sequential,
		ratio,
		wallRatio,
		agentsRatio,
		goalMet: ratio !== undefined && ratio >= 3,
	};
}
