/**
 * Is a process really the one we think it is? Alive (signal 0), not a zombie,
 * and started when it was recorded to have started — so a pid reused by
 * another process after a crash is not mistaken for the original. Linux reads
 * /proc/<pid>/stat (state, start time in clock ticks since boot, with the boot
 * id); elsewhere `ps -o stat=,lstart=`.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

export interface ProcessStatus {
	zombie: boolean;
	/** An opaque start stamp: equal for one process's whole life, different for a later one with the same pid. */
	started: string;
}

export function isProcessAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === "EPERM";
	}
}

function bootId(): string {
	try {
		return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
	} catch {
		return "";
	}
}

function linuxStatus(pid: number): ProcessStatus | undefined {
	let stat: string;
	try {
		stat = readFileSync(`/proc/${pid}/stat`, "utf8");
	} catch {
		return undefined;
	}
	// "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")".
	const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
	// fields[0] is field 3 (state); field 22 (starttime) is fields[19].
	return { zombie: fields[0] === "Z", started: `linux:${bootId()}:${fields[19] ?? "?"}` };
}

function psStatus(pid: number): ProcessStatus | undefined {
	try {
		// lstart is printed in local time and language: fix both, so every reader gets the same stamp.
		const env = { ...process.env, TZ: "UTC", LC_ALL: "C" };
		const out = execFileSync("ps", ["-o", "stat=,lstart=", "-p", String(pid)], {
			encoding: "utf8",
			timeout: 5000,
			env,
		});
		if (!out.trim()) return undefined;
		const [state = "", ...start] = out.trim().split(/\s+/);
		return { zombie: state.startsWith("Z"), started: `ps:${start.join(" ")}` };
	} catch {
		return undefined;
	}
}

/** State and start stamp of a process, or undefined when there is no such process (or it cannot be read). */
export function processStatus(pid: number): ProcessStatus | undefined {
	return process.platform === "linux" ? linuxStatus(pid) : psStatus(pid);
}

/**
 * True when the process that `started` describes is still running: the pid is alive, not a zombie, and
 * (when a stamp was recorded) has the same start stamp. Without a stamp, liveness alone decides.
 */
export function isSameProcessRunning(pid: number, started?: string): boolean {
	if (!isProcessAlive(pid)) return false;
	const status = processStatus(pid);
	if (!status) return true; // alive but unreadable (another user's, say): assume it holds
	if (status.zombie) return false;
	return started === undefined || status.started === started;
}
