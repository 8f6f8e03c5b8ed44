/**
 * End-to-end harness: temporary git projects, an isolated pi agent dir and
 * HOME, the scripted model, and runners for the real pi CLI in print mode
 * and RPC mode with this package loaded (`pi -e <checkout>`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { commitAll, createSandbox } from "./sandbox.mjs";
import type { LoggedEnd, LoggedRequest, Script } from "./scripted-model.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The pi CLI under test: this package's pinned pi, or LOOP_PI_BIN (npm run test:pi-latest sets it). */
export const PI_BIN = process.env.LOOP_PI_BIN || join(REPO_ROOT, "node_modules", ".bin", "pi");
/** The node that runs it: LOOP_PI_NODE, else the pi script's own `#!/usr/bin/env node`. */
export const PI_NODE = process.env.LOOP_PI_NODE || undefined;
export const SCRIPTED_MODEL = join(REPO_ROOT, "test", "support", "scripted-model.ts");
export const HOST_PROBE = join(REPO_ROOT, "test", "support", "host-probe.ts");

export interface Fixture {
	/** Extension paths to load instead of the whole package (print mode). */
	load?: string[];
	/** When false, pi starts on the default model in the agent dir's settings instead of `--model`. */
	modelFlag?: boolean;
	root: string;
	project: string;
	agentDir: string;
	scriptPath: string;
	logPath: string;
	env: NodeJS.ProcessEnv;
}

export interface ProjectOptions {
	git?: boolean;
	files?: Record<string, string>;
}

/** A failing sample project: `node test.js` prints "N failed" until lib.js is fixed. */
export const BUGGY_LIB: Record<string, string> = {
	"lib.js": "exports.add = (a, b) => a - b;\nexports.mul = (a, b) => a + b;\n",
	"test.js": [
		'const lib = require("./lib");',
		"let failed = 0;",
		'if (lib.add(2, 3) !== 5) { failed++; console.log("FAIL add(2, 3) = " + lib.add(2, 3)); }',
		'if (lib.mul(2, 3) !== 6) { failed++; console.log("FAIL mul(2, 3) = " + lib.mul(2, 3)); }',
		'console.log(failed + " failed");',
		"process.exit(failed ? 1 : 0);",
		"",
	].join("\n"),
};
/** A node:test project (`npm test` = `node --test`) and test files that pass or fail, for build loops. */
export const NODE_TEST_PACKAGE = JSON.stringify({ name: "sample", scripts: { test: "node --test" } });
export const passingTest = (name: string) => `const test = require("node:test");\ntest("${name}", () => {});\n`;
export const failingTest = (name: string) =>
	`const test = require("node:test");\nconst assert = require("node:assert");\n` +
	`test("${name}", () => assert.equal(1, 2));\n`;

export const LIB_HALF_FIXED = "exports.add = (a, b) => a + b;\nexports.mul = (a, b) => a + b;\n";
export const LIB_FIXED = "exports.add = (a, b) => a + b;\nexports.mul = (a, b) => a * b;\n";

export function makeFixture(options: ProjectOptions = {}): Fixture {
	const { root, project, agentDir, env } = createSandbox("pi-loop-e2e-");
	for (const [path, content] of Object.entries(options.files ?? BUGGY_LIB)) {
		mkdirSync(dirname(join(project, path)), { recursive: true });
		writeFileSync(join(project, path), content);
	}
	if (options.git !== false) commitAll(project, env);
	const fixture = {
		root,
		project,
		agentDir,
		scriptPath: env.LOOP_FAUX_SCRIPT as string,
		logPath: env.LOOP_FAUX_LOG as string,
		env,
	};
	setScript(fixture, { steps: [] });
	return fixture;
}

/** Links a tool from this package's node_modules (`target`, relative to it) into the fixture's node_modules/.bin. */
export function linkBin(fx: Fixture, name: string, target: string): void {
	mkdirSync(join(fx.project, "node_modules", ".bin"), { recursive: true });
	symlinkSync(join(REPO_ROOT, "node_modules", target), join(fx.project, "node_modules", ".bin", name));
}

export function setScript(fx: Fixture, script: Script): void {
	writeFileSync(fx.scriptPath, JSON.stringify(script));
}

/** pi's arguments: this package (or only the given extension entry files) and the scripted model, then the rest. */
export function piArgs(mode: string[], extra: string[] = [], modelFlag = true, load: string[] = [REPO_ROOT]): string[] {
	const model = modelFlag ? ["--model", "faux/faux-1"] : [];
	return [...load.flatMap((path) => ["-e", path]), "-e", SCRIPTED_MODEL, ...model, ...mode, ...extra];
}

/** The executable and arguments that start pi with these arguments (PI_NODE first when set). */
export function piCommand(args: string[]): [string, string[]] {
	return PI_NODE ? [PI_NODE, [PI_BIN, ...args]] : [PI_BIN, args];
}

/** Starts pi without --model, on faux/faux-1 as the saved default (as a user's normal start). */
export function useDefaultModel(fx: Fixture): void {
	fx.modelFlag = false;
	writeFileSync(
		join(fx.agentDir, "settings.json"),
		JSON.stringify({ defaultProvider: "faux", defaultModel: "faux-1" }),
	);
}

export function savedDefaultModel(fx: Fixture): string {
	const settings = JSON.parse(readFileSync(join(fx.agentDir, "settings.json"), "utf8"));
	return `${settings.defaultProvider}/${settings.defaultModel}`;
}

export interface PiResult {
	code: number | null;
	stdout: string;
	stderr: string;
}

/** Starts `pi -p <prompt>` in the project; resolves when it exits. */
export function startPrint(
	fx: Fixture,
	prompt: string,
	extra: string[] = [],
): { child: ChildProcess; done: Promise<PiResult> } {
	const [command, args] = piCommand(piArgs(["-p"], [...extra, prompt], fx.modelFlag !== false, fx.load));
	const child = spawn(command, args, { cwd: fx.project, env: fx.env, stdio: ["ignore", "pipe", "pipe"] });
	let stdout = "";
	let stderr = "";
	child.stdout?.on("data", (d) => (stdout += d));
	child.stderr?.on("data", (d) => (stderr += d));
	const done = new Promise<PiResult>((resolveDone) =>
		child.on("close", (code) => resolveDone({ code, stdout, stderr })),
	);
	return { child, done };
}

export function runPrint(fx: Fixture, prompt: string, extra: string[] = []): Promise<PiResult> {
	return startPrint(fx, prompt, extra).done;
}

/** One print-mode process handling several prompts in turn (`pi -p a b c`). */
export function runPrintAll(fx: Fixture, prompts: string[]): Promise<PiResult> {
	return startPrint(fx, prompts.at(-1) as string, prompts.slice(0, -1)).done;
}

/**
 * What the model was sent, request by request. System-role messages are left out of `messages`: pi 1.x's agent
 * loop puts an empty one (its tool-changes marker) first in the context; pi 0.73 sends none.
 */
export function requests(fx: Fixture): LoggedRequest[] {
	if (!existsSync(fx.logPath)) return [];
	return readFileSync(fx.logPath, "utf8")
		.split("\n")
		.filter((l) => l.trim() !== "")
		.map((l) => JSON.parse(l) as LoggedRequest)
		.map((r) => ({ ...r, messages: r.messages.filter((m) => m.role !== "system") }));
}

export interface RequestTime {
	call: number;
	/** The route's match string; undefined for the global steps. */
	route?: string;
	/** Epoch ms the request arrived. */
	startedAt: number;
	/** Epoch ms it was answered (after its delay); undefined while it is still pending (a hang). */
	endedAt?: number;
}

/** When each request started and was answered (the log joined with its `.ends` sidecar), in call order. */
export function requestTimes(fx: Fixture): RequestTime[] {
	const lines = (path: string) =>
		existsSync(path)
			? readFileSync(path, "utf8")
					.split("\n")
					.filter((l) => l.trim() !== "")
			: [];
	const ends = new Map<number, number>();
	for (const line of lines(`${fx.logPath}.ends`)) {
		const end = JSON.parse(line) as LoggedEnd;
		ends.set(end.call, end.endedAt);
	}
	return lines(fx.logPath)
		.map((l) => JSON.parse(l) as LoggedRequest)
		.map((r) => ({ call: r.call, route: r.route, startedAt: r.startedAt, endedAt: ends.get(r.call) }));
}

export function loopDir(fx: Fixture): string {
	return join(fx.project, ".pi", "loop");
}

export function readLoopState(fx: Fixture): Record<string, any> {
	return JSON.parse(readFileSync(join(loopDir(fx), "state.json"), "utf8"));
}

export function runIds(fx: Fixture): string[] {
	const runs = join(loopDir(fx), "runs");
	return existsSync(runs) ? readdirSync(runs).sort() : [];
}

export function events(fx: Fixture, runId?: string): Record<string, any>[] {
	const id = runId ?? runIds(fx).at(-1);
	if (!id) return [];
	const file = join(loopDir(fx), "runs", id, "events.jsonl");
	if (!existsSync(file)) return [];
	return readFileSync(file, "utf8")
		.split("\n")
		.filter((l) => l.trim() !== "")
		.map((l) => JSON.parse(l));
}

export async function waitFor(predicate: () => boolean, timeoutMs = 20_000, what = "condition"): Promise<void> {
	const start = Date.now();
	while (!predicate()) {
		if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

/** Starts `pi -p <prompt>` and kills it (SIGKILL) once the model has had `calls` requests: a crash mid-run. */
export async function killAtRequest(
	fx: Fixture,
	prompt: string,
	calls: number,
	what: string,
	timeoutMs = 30_000,
): Promise<void> {
	const run = startPrint(fx, prompt);
	await waitFor(() => requests(fx).length === calls, timeoutMs, what);
	run.child.kill("SIGKILL");
	await run.done;
}

export function gitLog(fx: Fixture): string[] {
	return execFileSync("git", ["log", "--format=%s"], { cwd: fx.project, env: fx.env, encoding: "utf8" })
		.trim()
		.split("\n");
}

export const FAILING_TESTS = 'console.log("1 failed: sum"); process.exit(1);\n';
export const PASSING_TESTS = 'console.log("all passed");\n';

/** A TypeScript project with prettier linked in and a `node test.js` test script (gates fixtures). */
export function tsFixture(options: { tests?: string; config?: object } = {}): Fixture {
	const fx = makeFixture({
		files: {
			"package.json": JSON.stringify({ name: "fixture", private: true, scripts: { test: "node test.js" } }),
			"tsconfig.json": JSON.stringify({
				compilerOptions: { strict: true, target: "ES2022", module: "NodeNext", noEmit: true },
			}),
			"src/math.ts": "export function sum(a: number, b: number): number {\n  return a + b;\n}\n",
			".prettierrc": "{}\n",
			".gitignore": "node_modules/\n",
			"test.js": options.tests ?? PASSING_TESTS,
			...(options.config ? { ".pi/loop.json": JSON.stringify(options.config) } : {}),
		},
	});
	linkBin(fx, "prettier", "prettier/bin/prettier.cjs");
	return fx;
}
