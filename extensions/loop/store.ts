/**
 * File-based loop state under `.pi/loop/`: state.json (atomic writes,
 * corrupt files moved aside, never overwritten), per-run events.jsonl and
 * report.md, and the control file that /loop stop and /loop abort use to
 * reach a loop running in another extension instance or process.
 */
import {
	appendFileSync,
	existsSync,
	mkdirSync,
	readdirSync,
	readFileSync,
	renameSync,
	rmSync,
	writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { LoopEvent } from "./events.ts";
import type { LoopState } from "./types.ts";

export class StateError extends Error {}

export interface LoopPaths {
	root: string;
	state: string;
	lock: string;
	control: string;
	runs: string;
}

export function loopPaths(cwd: string): LoopPaths {
	const root = join(cwd, ".pi", "loop");
	return {
		root,
		state: join(root, "state.json"),
		lock: join(root, "lock.json"),
		control: join(root, "control.json"),
		runs: join(root, "runs"),
	};
}

export function runDir(paths: LoopPaths, runId: string): string {
	return join(paths.runs, runId);
}

/** Creates `.pi/loop/` with a .gitignore so loop state never lands in the user's commits. */
export function ensureLoopDir(paths: LoopPaths): void {
	mkdirSync(paths.runs, { recursive: true });
	const ignore = join(paths.root, ".gitignore");
	if (!existsSync(ignore)) writeFileSync(ignore, "*\n");
}

/** Private git index and objects of a run's change snapshots. */
export function snapshotDir(paths: LoopPaths, runId: string): string {
	return join(paths.root, "snapshots", runId);
}

/** Removes snapshot data of every run but `keep` (older runs can no longer be resumed usefully). */
export function pruneSnapshots(paths: LoopPaths, keep: string): void {
	const dir = join(paths.root, "snapshots");
	if (!existsSync(dir)) return;
	for (const name of readdirSync(dir)) if (name !== keep) rmSync(join(dir, name), { recursive: true, force: true });
}

export function ensureRunDir(paths: LoopPaths, runId: string): void {
	mkdirSync(runDir(paths, runId), { recursive: true });
}

/** Writes via a temp file and rename, so readers never see half a file. */
export function writeFileAtomic(path: string, content: string): void {
	const tmp = `${path}.${process.pid}.tmp`;
	writeFileSync(tmp, content);
	renameSync(tmp, path);
}

function looksLikeState(value: unknown): value is LoopState {
	if (!value || typeof value !== "object") return false;
	const s = value as Partial<LoopState>;
	return (
		s.version === 1 &&
		typeof s.runId === "string" &&
		typeof s.check === "string" &&
		(s.status === "running" || s.status === "ended") &&
		Array.isArray(s.history) &&
		Array.isArray(s.checks) &&
		typeof s.options === "object"
	);
}

/**
 * Reads state.json. Missing → undefined. Unreadable or malformed → the file
 * is moved aside (state.json.corrupt-<time>) and a StateError explains where.
 */
export function readState(paths: LoopPaths): LoopState | undefined {
	if (!existsSync(paths.state)) return undefined;
	const text = readFileSync(paths.state, "utf8");
	let problem: string;
	try {
		const parsed: unknown = JSON.parse(text);
		if (looksLikeState(parsed)) return parsed;
		problem = "it is not a loop state (missing or wrong fields)";
	} catch (error) {
		problem = `invalid JSON: ${(error as Error).message}`;
	}
	const aside = `${paths.state}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
	renameSync(paths.state, aside);
	throw new StateError(
		`loop state file ${paths.state} is corrupt (${problem}); it was moved to ${aside} and nothing was overwritten. ` +
			"Run your /loop command again to start fresh.",
	);
}

export function saveState(paths: LoopPaths, state: LoopState): void {
	const json = `${JSON.stringify(state, null, 2)}\n`;
	writeFileAtomic(paths.state, json);
	writeFileAtomic(join(runDir(paths, state.runId), "state.json"), json);
}

/** Reads a past run's saved state (runs/<id>/state.json); unreadable or malformed → undefined. */
export function readRunState(paths: LoopPaths, runId: string): LoopState | undefined {
	try {
		const parsed: unknown = JSON.parse(readFileSync(join(runDir(paths, runId), "state.json"), "utf8"));
		return looksLikeState(parsed) ? parsed : undefined;
	} catch {
		return undefined;
	}
}

export function listRuns(paths: LoopPaths): string[] {
	if (!existsSync(paths.runs)) return [];
	return readdirSync(paths.runs).sort();
}

export function appendEvent(paths: LoopPaths, runId: string, event: LoopEvent): void {
	const line = JSON.stringify({ ...event, ts: new Date().toISOString() });
	appendFileSync(join(runDir(paths, runId), "events.jsonl"), `${line}\n`);
}

export function writeReport(paths: LoopPaths, runId: string, markdown: string): string {
	const file = join(runDir(paths, runId), "report.md");
	writeFileAtomic(file, markdown);
	return file;
}

export type ControlRequest = "stop" | "abort";

/** Records a request for the running loop; a pending abort is never downgraded to a stop. */
export function requestControl(paths: LoopPaths, runId: string, request: ControlRequest): void {
	if (request === "stop" && readControl(paths, runId) === "abort") return;
	writeFileAtomic(paths.control, JSON.stringify({ runId, request, ts: new Date().toISOString() }));
}

/** The pending request for this run; "abort" wins over "stop". Unreadable files count as none. */
export function readControl(paths: LoopPaths, runId: string): ControlRequest | undefined {
	try {
		const c = JSON.parse(readFileSync(paths.control, "utf8")) as { runId?: string; request?: string };
		if (c.runId !== runId) return undefined;
		return c.request === "abort" || c.request === "stop" ? c.request : undefined;
	} catch {
		return undefined;
	}
}

export function clearControl(paths: LoopPaths): void {
	rmSync(paths.control, { force: true });
}
