// Benchmark: latency from a one-file edit to that file's diagnostics on a
// generated strict TypeScript project of 300 files (m<i>.ts exports a
// function and imports m<i-1>.ts, ~40 lines each, same content every run).
// (a) the gates' warm server as the registry picks it (DiagnosticServers) for
//     the project without TypeScript of its own: the bundled TypeScript 7 LSP.
//     Write the file, ask for its diagnostics, time write→answer; warmed by
//     one call first. 30 edits: 15 files, each edited to a version with one
//     type error and then back to clean, so the diagnostics really change;
//     every answer is checked (one TS2322 error, then none).
// (b) the baselines: write the file, run `tsc --noEmit -p <project>` to exit,
//     with the same TypeScript 7 the server runs and with the classic
//     TypeScript 5.9; exit codes and output are checked the same way.
// (c) the same project with TypeScript 5.9 of its own (node_modules/typescript
//     linked to this checkout's): the registry picks its tsserver; measured
//     as (a), compared with (b)'s tsc 5.9.
// (d) a generated Python project of 200 modules (pkg/m<i>.py imports
//     m<i-1>, dataclasses, ~40 lines each): pyright's language server as the
//     registry picks it, measured as (a) (one reportReturnType error, then
//     none), against the `pyright` CLI per edit (same pyright).
// p50 and p95 are nearest-rank percentiles.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createJiti } from "jiti";

const FILES = 300;
const EDITS = 30;
/** TypeScript 7 tsc runs until about this much time is spent (at most EDITS, at least TSC5_RUNS). */
const TSC7_BUDGET_MS = 30_000;
const TSC5_RUNS = 5;
const PY_FILES = 200;
const PYRIGHT_RUNS = 5;

const TSCONFIG = {
	compilerOptions: {
		target: "ES2022",
		module: "ESNext",
		moduleResolution: "bundler",
		lib: ["ES2022"],
		types: [],
		strict: true,
		noUnusedLocals: true,
		noUnusedParameters: true,
		noImplicitReturns: true,
		noFallthroughCasesInSwitch: true,
		exactOptionalPropertyTypes: true,
		skipLibCheck: true,
		noEmit: true,
	},
	include: ["src"],
};

/** m<i>.ts; `broken` turns one return into a type error (TS2322) without changing any exported type. */
function source(i, broken = false) {
	const prev = i - 1;
	const head =
		i === 0
			? `export interface Record${i} {\n\tid: number;\n\tlabel: string;\n\ttags: readonly string[];\n}\n`
			: `import { step${prev}, type Record${prev} } from "./m${prev}";\n\n` +
				`export interface Record${i} {\n\tid: number;\n\tlabel: string;\n\ttags: readonly string[];\n` +
				`\tprevious?: Record${prev};\n}\n`;
	const previous = i === 0 ? "" : `\tconst previous = step${prev}(input + 1, label);\n`;
	const link = i === 0 ? "" : ", previous";
	return `${head}
const FACTOR_${i} = ${((i * 7) % 13) + 1};

function normalize${i}(label: string): string {
	return label.trim().toLowerCase().replace(/\\s+/g, "-");
}

function score${i}(values: readonly number[]): number {
	let total = 0;
	for (const value of values) {
		if (value % 2 === 0) total += value * FACTOR_${i};
		else total -= value;
	}
	return ${broken ? "String(total)" : "total"};
}

/** Step ${i} of the chain. */
export function step${i}(input: number, label: string): Record${i} {
${previous}	const tags = [normalize${i}(label), \`n\${input % ${i + 2}}\`];
	const id = score${i}([input, input * 2, label.length]);
	switch (id % 3) {
		case 0:
			return { id, label: normalize${i}(label), tags${link} };
		case 1:
			return { id: id + 1, label, tags: [...tags, "odd"]${link} };
		default:
			return { id: -id, label: label.toUpperCase(), tags: [] };
	}
}
`;
}

function makeProject() {
	const dir = mkdtempSync(join(tmpdir(), "pi-loop-bench-gates-"));
	writeFileSync(join(dir, "tsconfig.json"), `${JSON.stringify(TSCONFIG, null, "\t")}\n`);
	mkdirSync(join(dir, "src"));
	for (let i = 0; i < FILES; i++) writeFileSync(join(dir, "src", `m${i}.ts`), source(i));
	return dir;
}

/** m<i>.py; `broken` makes one return a type error (reportReturnType) without changing any signature. */
function pySource(i, broken = false) {
	const prev = i - 1;
	const head = i === 0 ? "" : `from pkg.m${prev} import Record${prev}, step${prev}\n`;
	const previous = i === 0 ? "" : `    previous = step${prev}(value + 1, label)\n`;
	const link = i === 0 ? "None" : "previous";
	return `from dataclasses import dataclass, field
${head}
FACTOR_${i} = ${((i * 7) % 13) + 1}


@dataclass
class Record${i}:
    id: int
    label: str
    tags: list[str] = field(default_factory=list)
    previous: ${i === 0 ? "None" : `Record${prev} | None`} = None


def normalize${i}(label: str) -> str:
    return "-".join(label.strip().lower().split())


def score${i}(values: list[int]) -> int:
    total = 0
    for value in values:
        if value % 2 == 0:
            total += value * FACTOR_${i}
        else:
            total -= value
    return ${broken ? "str(total)" : "total"}


def step${i}(value: int, label: str) -> Record${i}:
    """Step ${i} of the chain."""
${previous}    tags = [normalize${i}(label), f"n{value % ${i + 2}}"]
    ident = score${i}([value, value * 2, len(label)])
    if ident % 3 == 0:
        return Record${i}(ident, normalize${i}(label), tags, ${link})
    if ident % 3 == 1:
        return Record${i}(ident + 1, label, [*tags, "odd"], ${link})
    return Record${i}(-ident, label.upper(), [])
`;
}

function makePyProject() {
	const dir = mkdtempSync(join(tmpdir(), "pi-loop-bench-gates-py-"));
	writeFileSync(
		join(dir, "pyproject.toml"),
		'[project]\nname = "bench"\nversion = "0.1.0"\n\n[tool.pyright]\ninclude = ["pkg"]\n',
	);
	mkdirSync(join(dir, "pkg"));
	writeFileSync(join(dir, "pkg", "__init__.py"), "");
	for (let i = 0; i < PY_FILES; i++) writeFileSync(join(dir, "pkg", `m${i}.py`), pySource(i));
	return dir;
}

const KINDS = {
	ts: { files: FILES, path: (dir, i) => join(dir, "src", `m${i}.ts`), name: (i) => `m${i}.ts`, source },
	py: { files: PY_FILES, path: (dir, i) => join(dir, "pkg", `m${i}.py`), name: (i) => `m${i}.py`, source: pySource },
};

/** Edit k: file m<10 + 20·⌊k/2⌋>, the error version on even k, clean again on odd k. */
function edit(dir, k, kind = KINDS.ts) {
	const i = (10 + 20 * Math.floor(k / 2)) % kind.files;
	const broken = k % 2 === 0;
	const path = kind.path(dir, i);
	return { path, name: kind.name(i), broken, write: () => writeFileSync(path, kind.source(i, broken)) };
}

function percentile(values, p) {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(times) {
	return { runs: times.length, p50Ms: percentile(times, 50), p95Ms: percentile(times, 95) };
}

function fail(what, e, detail) {
	throw new Error(
		`gates bench: ${what} after writing ${e.name} (${e.broken ? "with" : "without"} a type error): ${detail}`,
	);
}

/**
 * (a), (c), (d): the warm server the registry picks, EDITS edits, each answer
 * checked (`code`: the one error expected).
 */
async function serverLatency(DiagnosticServers, dir, server, code, kind = KINDS.ts) {
	const pool = new DiagnosticServers(dir);
	const ask = async (path, timeoutMs) => {
		const answer = await pool.diagnostics(server, [path], timeoutMs);
		if (answer.unavailable.size > 0)
			throw new Error(`gates bench: ${server} server unavailable: ${[...answer.unavailable.values()][0]}`);
		return answer.found;
	};
	try {
		const warm = await ask(kind.path(dir, 0), 120_000);
		if (warm.length > 0) throw new Error(`gates bench: the generated project is not clean: ${JSON.stringify(warm[0])}`);
		const times = [];
		for (let k = 0; k < EDITS; k++) {
			const e = edit(dir, k, kind);
			const start = process.hrtime.bigint();
			e.write();
			const items = await ask(e.path, 10_000);
			times.push(Number(process.hrtime.bigint() - start) / 1e6);
			const errors = items.filter((d) => d.severity === "error" && d.code === code);
			if (e.broken ? errors.length !== 1 || items.length !== 1 : items.length !== 0)
				fail(`the ${server} server answered`, e, JSON.stringify(items));
		}
		return {
			...summary(times),
			label: pool
				.describe(server)
				.split("\n")[0]
				.replace(/; running.*$/, ""),
		};
	} finally {
		await pool.stop();
	}
}

/** One `pyright -p dir` after edit k; checked like the server's answer. */
function pyrightRun(pyright, dir, k) {
	const e = edit(dir, k, KINDS.py);
	const start = process.hrtime.bigint();
	e.write();
	const run = spawnSync(process.execPath, [pyright, "-p", dir], { encoding: "utf8", cwd: dir });
	const ms = Number(process.hrtime.bigint() - start) / 1e6;
	const out = `${run.stdout}${run.stderr}`;
	const errors = out.split("\n").filter((line) => / - error: /.test(line));
	const expected = e.broken
		? errors.length === 1 && errors[0].includes(e.name) && out.includes("(reportReturnType)")
		: errors.length === 0;
	if (!expected || (run.status === 0) === e.broken)
		fail(`pyright exited ${run.status}`, e, out.trim() || String(run.error));
	return ms;
}

function pyrightLatency(pyright, dir) {
	const times = [];
	pyrightRun(pyright, dir, 1); // untimed warm-up (the file as generated)
	for (let k = 0; k < PYRIGHT_RUNS; k++) times.push(pyrightRun(pyright, dir, k));
	if (PYRIGHT_RUNS % 2 === 1) pyrightRun(pyright, dir, PYRIGHT_RUNS);
	const { version } = JSON.parse(readFileSync(join(dirname(pyright), "package.json"), "utf8"));
	return { ...summary(times), version };
}

/** One `tsc --noEmit -p dir` after edit k; checked like the server's answer. */
function tscRun(tsc, dir, k) {
	const e = edit(dir, k);
	const start = process.hrtime.bigint();
	e.write();
	const run = spawnSync(process.execPath, [tsc, "--noEmit", "-p", dir], { encoding: "utf8" });
	const ms = Number(process.hrtime.bigint() - start) / 1e6;
	const out = `${run.stdout}${run.stderr}`;
	const errors = out.split("\n").filter((line) => / error TS\d+/.test(line));
	const expected = e.broken
		? errors.length === 1 && errors[0].includes(e.name) && errors[0].includes("TS2322")
		: errors.length === 0;
	if (!expected || (run.status === 0) === e.broken)
		fail(`tsc exited ${run.status}`, e, out.trim() || String(run.error));
	return ms;
}

/** (b): `runs` edits, or as many as fit in budgetMs (at least minRuns) when runs is undefined. */
function tscLatency(tsc, dir, { runs, budgetMs, minRuns }) {
	const times = [];
	// the clean version of edit 1 (file back as generated); untimed warm-up and cost estimate
	const first = tscRun(tsc, dir, 1);
	const n = runs ?? Math.max(minRuns, Math.min(EDITS, Math.floor(budgetMs / first)));
	for (let k = 0; k < n; k++) times.push(tscRun(tsc, dir, k));
	// leave the project as generated whatever n was
	if (n % 2 === 1) tscRun(tsc, dir, n);
	const { version } = JSON.parse(readFileSync(join(dirname(tsc), "..", "package.json"), "utf8"));
	return { ...summary(times), version };
}

export async function gatesBench(repo) {
	const jiti = createJiti(import.meta.url);
	const { DiagnosticServers } = await jiti.import(join(repo, "extensions/gates/server-pool.ts"));
	const dir = makeProject();
	const pyDir = makePyProject();
	try {
		const server = await serverLatency(DiagnosticServers, dir, "typescript", "TS2322");
		const tsc7 = tscLatency(join(repo, "node_modules/typescript-native/bin/tsc"), dir, {
			budgetMs: TSC7_BUDGET_MS,
			minRuns: TSC5_RUNS,
		});
		const tsc5 = tscLatency(join(repo, "node_modules/typescript/bin/tsc"), dir, { runs: TSC5_RUNS });
		// (c): the project gets TypeScript 5.9 of its own.
		mkdirSync(join(dir, "node_modules"));
		symlinkSync(join(repo, "node_modules", "typescript"), join(dir, "node_modules", "typescript"));
		const own5 = await serverLatency(DiagnosticServers, dir, "typescript", "TS2322");
		const python = await serverLatency(DiagnosticServers, pyDir, "python", "reportReturnType", KINDS.py);
		const pyright = pyrightLatency(join(repo, "node_modules/pyright/index.js"), pyDir);
		const ratio7 = tsc7.p50Ms / server.p50Ms;
		const ratioOwn5 = tsc5.p50Ms / own5.p50Ms;
		const ratioPython = pyright.p50Ms / python.p50Ms;
		return {
			files: FILES,
			pyFiles: PY_FILES,
			edits: EDITS,
			server,
			tsc7,
			tsc5,
			ratio7,
			ratio5: tsc5.p50Ms / server.p50Ms,
			goalMet: server.p50Ms < 100 && ratio7 >= 10,
			own5,
			ratioOwn5,
			goalOwn5Met: own5.p50Ms < 50 && ratioOwn5 >= 30,
			python,
			pyright,
			ratioPython,
			goalPythonMet: python.p50Ms < 50 && ratioPython >= 30,
		};
	} finally {
		rmSync(dir, { recursive: true, force: true });
		rmSync(pyDir, { recursive: true, force: true });
	}
}
