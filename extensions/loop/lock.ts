/**
 * One loop per project: an exclusive lock file naming its holder. A lock
 * whose process is gone (on this host) is stale and taken over.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";

export interface LockHolder {
	pid: number;
	host: string;
	runId: string;
	since: string;
}

export class LockError extends Error {}

export function isProcessAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === "EPERM";
	}
}

export function readLock(path: string): LockHolder | undefined {
	try {
		return JSON.parse(readFileSync(path, "utf8")) as LockHolder;
	} catch {
		return undefined;
	}
}

/** True when the holder is known to be dead (same host, no such process). */
export function isStale(holder: LockHolder | undefined): boolean {
	if (!holder || typeof holder.pid !== "number") return true;
	return holder.host === hostname() && !isProcessAlive(holder.pid);
}

export interface AcquiredLock {
	release(): void;
	/** Set when a stale lock of a dead process was taken over. */
	tookOver?: LockHolder;
}

/** Takes the lock for runId or throws a LockError naming the live holder. */
export function acquireLock(path: string, runId: string): AcquiredLock {
	let tookOver: LockHolder | undefined;
	for (let attempt = 0; attempt < 2; attempt++) {
		const me: LockHolder = { pid: process.pid, host: hostname(), runId, since: new Date().toISOString() };
		try {
			writeFileSync(path, JSON.stringify(me), { flag: "wx" });
			const release = () => {
				if (readLock(path)?.runId === runId && readLock(path)?.pid === process.pid) rmSync(path, { force: true });
			};
			return { release, tookOver };
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
		}
		const holder = readLock(path);
		if (!isStale(holder)) {
			const h = holder as LockHolder;
			throw new LockError(
				`another loop is running in this project: run ${h.runId}, pid ${h.pid} on ${h.host}, since ${h.since}. ` +
					`Use /loop stop or /loop abort there, or wait for it to end (lock: ${path}).`,
			);
		}
		tookOver = holder;
		rmSync(path, { force: true });
	}
	throw new LockError(`could not take the loop lock ${path}; another process keeps re-creating it`);
}
