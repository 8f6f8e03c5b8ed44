/**
 * Runs the loop's check command in its own process group, capturing
 * combined output, and kills the whole process tree on timeout or abort.
 */
import { spawn } from "node:child_process";
import { processWide } from "../shared/process-wide.ts";

export interface CheckRun {
	exitCode: number;
	output: string;
	/** The two streams apart (each cut to its last 512 KB too). */
	stdout: string;
	stderr: string;
	durationMs: number;
	timedOut: boolean;
	aborted: boolean;
	/** Where it ran: paths below it are made relative when failures are identified. */
	cwd?: string;
}

const KEEP_BYTES = 512 * 1024;

/**
 * Process groups of checks still running. If pi exits (print mode exits on
 * SIGTERM, for instance) they are killed rather than left running alongside a
 * later resumed loop.
 */
function activeChecks(): Set<number> {
	return processWide("active-checks", () => {
		const created = new Set<number>();
		process.once("exit", () => {
			for (const pid of created) killTree(pid, "SIGKILL");
		});
		return created;
	});
}
const KILL_GRACE_MS = 1500;

function killTree(pid: number | undefined, signal: NodeJS.Signals): void {
	if (pid === undefined) return;
	try {
		process.kill(-pid, signal);
	} catch {
		// already gone
	}
}

export function runCheck(command: string, cwd: string, timeoutMs: number, signal?: AbortSignal): Promise<CheckRun> {
	const started = Date.now();
	return new Promise((resolve) => {
		const child = spawn("/bin/sh", ["-c", command], {
			cwd,
			detached: true,
			stdio: ["ignore", "pipe", "pipe"],
			env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" },
		});
		if (child.pid !== undefined) activeChecks().add(child.pid);
		let output = "";
		const streams = { stdout: "", stderr: "" };
		let timedOut = false;
		let aborted = false;
		let killTimer: NodeJS.Timeout | undefined;
		const keep = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
			const text = chunk.toString("utf8");
			output += text;
			streams[stream] += text;
			if (output.length > KEEP_BYTES * 2) output = output.slice(-KEEP_BYTES);
			if (streams[stream].length > KEEP_BYTES * 2) streams[stream] = streams[stream].slice(-KEEP_BYTES);
		};
		child.stdout.on("data", keep("stdout"));
		child.stderr.on("data", keep("stderr"));
		const stop = () => {
			killTree(child.pid, "SIGTERM");
			killTimer = setTimeout(() => killTree(child.pid, "SIGKILL"), KILL_GRACE_MS);
		};
		const timer = setTimeout(() => {
			timedOut = true;
			stop();
		}, timeoutMs);
		const onAbort = () => {
			aborted = true;
			stop();
		};
		if (signal?.aborted) onAbort();
		else signal?.addEventListener("abort", onAbort, { once: true });
		let done = false;
		const finish = (exitCode: number, extra = "") => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			if (killTimer) clearTimeout(killTimer);
			// Make sure nothing the check started outlives it.
			if (timedOut || aborted) killTree(child.pid, "SIGKILL");
			if (child.pid !== undefined) activeChecks().delete(child.pid);
			signal?.removeEventListener("abort", onAbort);
			let text = output.length > KEEP_BYTES ? output.slice(-KEEP_BYTES) : output;
			if (timedOut) text += `\n[loop] check timed out after ${timeoutMs} ms; its process tree was killed\n`;
			text += extra;
			const last = (t: string) => (t.length > KEEP_BYTES ? t.slice(-KEEP_BYTES) : t);
			const { stdout, stderr } = streams;
			resolve({
				exitCode,
				output: text,
				stdout: last(stdout),
				stderr: last(stderr) + extra,
				durationMs: Date.now() - started,
				timedOut,
				aborted,
				cwd,
			});
		};
		child.on("error", (error) => finish(127, `\n[loop] could not start check: ${error.message}\n`));
		const exitStatus = (code: number | null, sig: NodeJS.Signals | null) => code ?? (sig ? 128 + 15 : 1);
		child.on("close", (code, sig) => finish(exitStatus(code, sig)));
		// A background process the check left behind may hold the pipes open: do not wait for it.
		child.on("exit", (code, sig) => {
			setTimeout(() => {
				if (done) return;
				killTree(child.pid, "SIGKILL");
				finish(exitStatus(code, sig));
			}, 250).unref();
		});
	});
}
