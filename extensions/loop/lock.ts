/**
 * One loop per project: an exclusive lock file naming its holder and when
 * that process started. A lock whose process is gone, a zombie, or a pid now
 * reused by a process that started later (on this host) is stale and taken over.
 */
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { isSameProcessRunning, processStatus } from "../core/process-liveness.ts";
import { processWide } from "../shared/process-wide.ts";

export interface LockHolder {
	pid: number;
	host: string;
	runId: string;
	since: string;
	/** The holder process's start stamp (process-liveness.ts); absent in locks of older versions. */
	started?: string;
}

export class LockError extends Error {}

export function readLock(path: string): LockHolder | undefined {
	try {
		return JSON.parse(readFileSync(path, "utf8")) as LockHolder;
	} catch {
		return undefined;
	}
}

/** Run ids whose loop is running in this process (shared across reloads of this module). */
function runsInThisProcess(): Set<string> {
	return processWide("active-runs", () => new Set<string>());
}

/**
 * True when the holder is known to be dead: on this host, no such process, a
 * zombie, or another process under its pid (start stamps differ); or this very
 * process without that run active (a pid reused after a crash).
 */
export function isStale(holder: LockHolder | undefined): boolean {
	if (!holder || typeof holder.pid !== "number") return true;
	if (holder.host !== hostname()) return false;
	if (holder.pid === process.pid) return !runsInThisProcess().has(holder.runId);
	return !isSameProcessRunning(holder.pid, typeof holder.started === "string" ? holder.started : undefined);
}

/** This process's start stamp (read once). */
function ownStart(): string | undefined {
	return processWide("own-start", () => ({ value: processStatus(process.pid)?.started })).value;
}

export interface AcquiredLock {
	release(): void;
	/** Set when a stale lock of a dead process was taken over. */
	tookOver?: LockHolder;
}

function heldError(path: string, h: LockHolder): LockError {
	const elsewhere =
		h.host === hostname()
			? ""
			: "; it was taken on another host, so it is never considered stale here — delete it if that loop is gone";
	return new LockError(
		`another loop is running in this project: run ${h.runId}, pid ${h.pid} on ${h.host}, since ${h.since}. ` +
			`Use /loop stop or /loop abort there, or wait for it to end (lock: ${path}` +
			`${elsewhere}).`,
	);
}

/**
 * Moves a stale lock out of the way. The rename is atomic, so of two processes
 * taking over the same stale lock only one moves it; if what was moved turns out
 * to be a fresh lock (another process won the race), it is put back.
 */
function removeStale(path: string, seen: LockHolder | undefined): void {
	const aside = `${path}.${process.pid}.stale`;
	try {
		renameSync(path, aside);
	} catch {
		return; // someone else moved it first
	}
	const moved = readLock(aside);
	if (JSON.stringify(moved) === JSON.stringify(seen) || isStale(moved)) {
		rmSync(aside, { force: true });
		return;
	}
	try {
		linkSync(aside, path);
	} finally {
		rmSync(aside, { force: true });
	}
	throw heldError(path, moved as LockHolder);
}

/** Takes the lock for runId or throws a LockError naming the live holder. */
export function acquireLock(path: string, runId: string): AcquiredLock {
	let tookOver: LockHolder | undefined;
	for (let attempt = 0; attempt < 3; attempt++) {
		const me: LockHolder = {
			pid: process.pid,
			host: hostname(),
			runId,
			since: new Date().toISOString(),
			started: ownStart(),
		};
		try {
			writeFileSync(path, JSON.stringify(me), { flag: "wx" });
			runsInThisProcess().add(runId);
			const release = () => {
				runsInThisProcess().delete(runId);
				const current = readLock(path);
				if (current?.runId === runId && current.pid === process.pid) rmSync(path, { force: true });
			};
			return { release, tookOver };
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
		}
		const holder = readLock(path);
		if (!isStale(holder)) throw heldError(path, holder as LockHolder);
		tookOver = holder;
		removeStale(path, holder);
	}
	throw new LockError(`could not take the loop lock ${path}; another process keeps re-creating it`);
}
