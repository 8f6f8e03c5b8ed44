// Benchmark: context hydration on a synthetic spec corpus (2,000 files,
// ~10 MB): index build, incremental update after one file changes, and
// per-query time; then recall of relevant specs within an 8,000-token budget,
// hydrator versus the naive baseline (concatenate specs in path order until
// the budget is full). The corpus and its labels are generated from a fixed
// seed, so every run measures the same thing.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJiti } from "jiti";

const FILES = 2000;
const SECTIONS = 6;
const BUDGET = 8000;

function rng(seed) {
	let s = seed >>> 0;
	return () => {
		s = (s * 1664525 + 1013904223) >>> 0;
		return s / 2 ** 32;
	};
}

const SYLLABLES = [
	"ka",
	"lo",
	"mi",
	"ra",
	"ten",
	"vo",
	"zu",
	"pel",
	"dor",
	"qui",
	"sen",
	"bar",
	"nex",
	"tul",
	"gri",
	"fam",
	"hob",
	"jin",
	"wex",
	"yal",
];
const COMMON = (
	"the system must should request response user data value field record service handler returns stores " +
	"validates updates when after before each every error state"
).split(" ");

function word(next, length) {
	let w = "";
	for (let i = 0; i < length; i++) w += SYLLABLES[Math.floor(next() * SYLLABLES.length)];
	return w;
}

/** 2,000 specs; each has a topic name and 6 topic words that appear only (mostly) in it. */
function makeCorpus(dir) {
	const next = rng(42);
	const specs = [];
	for (let f = 0; f < FILES; f++) {
		const topic = `${word(next, 2)}${f}`;
		const terms = Array.from({ length: 6 }, () => word(next, 3));
		const sections = [];
		for (let s = 0; s < SECTIONS; s++) {
			const sentences = [];
			for (let k = 0; k < 12; k++) {
				const common = Array.from({ length: 8 }, () => COMMON[Math.floor(next() * COMMON.length)]);
				common.splice(Math.floor(next() * 8), 0, terms[Math.floor(next() * terms.length)]);
				sentences.push(`${common.join(" ")}.`);
			}
			sections.push(`## ${topic} ${terms[s % terms.length]} rule ${s + 1}\n\n${sentences.join(" ")}`);
		}
		const path = `specs/${String(f).padStart(4, "0")}-${topic}.md`;
		const text = `# ${topic}\n\n${sections.join("\n\n")}\n`;
		mkdirSync(join(dir, "specs"), { recursive: true });
		writeFileSync(join(dir, path), text);
		specs.push({ path, topic, terms, bytes: text.length });
	}
	return specs;
}

/** 60 labeled tasks, each about two specs (named by their own terms, never by path). */
function makeQueries(specs) {
	const next = rng(7);
	const queries = [];
	for (let q = 0; q < 60; q++) {
		const a = specs[Math.floor(next() * specs.length)];
		const b = specs[Math.floor(next() * specs.length)];
		queries.push({
			task: `Make ${a.terms[0]} ${a.terms[1]} validate before ${b.terms[0]} ${b.terms[2]} updates the record`,
			relevant: [a.path, b.path],
		});
	}
	return queries;
}

function time(fn) {
	const start = process.hrtime.bigint();
	const value = fn();
	return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

function median(values) {
	const sorted = [...values].sort((x, y) => x - y);
	return sorted[Math.floor(sorted.length / 2)];
}

export async function hydrationBench(repo) {
	const jiti = createJiti(import.meta.url);
	const { SpecIndex } = await jiti.import(join(repo, "extensions/hydrate/spec-index.ts"));
	const { hydrate } = await jiti.import(join(repo, "extensions/hydrate/hydrator.ts"));
	const { DEFAULT_CONFIG } = await jiti.import(join(repo, "extensions/shared/config.ts"));

	const dir = mkdtempSync(join(tmpdir(), "pi-loop-bench-specs-"));
	const specs = makeCorpus(dir);
	const queries = makeQueries(specs);
	const corpusBytes = specs.reduce((n, s) => n + s.bytes, 0);

	const index = new SpecIndex(dir, "specs");
	const build = time(() => index.refresh());
	// Incremental update: one file edited, then refresh; the median of 9 edits to different files.
	const updates = [];
	for (let k = 0; k < 9; k++) {
		const changed = specs[100 + k * 211];
		writeFileSync(
			join(dir, changed.path),
			`# ${changed.topic}\n\n## ${changed.terms[0]} edited ${k}\n\n${changed.terms.join(" ")} changed.\n`,
		);
		updates.push(time(() => index.refresh()).ms);
	}
	const update = { ms: median(updates) };
	const queryTimes = queries.map((q) => time(() => index.query(q.task)).ms);

	const config = { ...structuredClone(DEFAULT_CONFIG), hydration: { budget: BUDGET, progressLines: 0 } };
	let found = 0;
	let baselineFound = 0;
	let total = 0;
	const baselineSpecs = new Set();
	let used = 0;
	for (const s of [...specs].sort((x, y) => x.path.localeCompare(y.path))) {
		const tokens = Math.ceil(s.bytes / 4);
		if (used + tokens > BUDGET) break;
		used += tokens;
		baselineSpecs.add(s.path);
	}
	const hydrateTimes = [];
	for (const q of queries) {
		const run = time(() => hydrate({ task: q.task, cwd: dir, config, index }));
		hydrateTimes.push(run.ms);
		const included = new Set(run.value.pieces.map((p) => p.path).filter(Boolean));
		for (const path of q.relevant) {
			total++;
			if (included.has(path)) found++;
			if (baselineSpecs.has(path)) baselineFound++;
		}
	}
	const recall = found / total;
	const baselineRecall = baselineFound / total;
	return {
		files: specs.length,
		corpusMB: corpusBytes / 1e6,
		buildMs: build.ms,
		updateMs: update.ms,
		queryMedianMs: median(queryTimes),
		queryMaxMs: Math.max(...queryTimes),
		hydrateMedianMs: median(hydrateTimes),
		queries: queries.length,
		recall,
		baselineRecall,
		updateMaxMs: Math.max(...updates),
		goalMet: median(queryTimes) < 50 && update.ms < 100 && recall >= 0.9 && recall >= 2 * baselineRecall,
	};
}
