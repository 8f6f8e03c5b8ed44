/**
 * The life of one warm diagnostics server process, whatever protocol it
 * speaks: started on the first request, each request bounded by a timeout
 * (then "unavailable", never clean), restarted after a crash or a timed-out
 * request, shut down politely or killed. The protocol clients
 * (lsp-client.ts, tsserver-client.ts) extend it with how to talk.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Writable } from "node:stream";
import type { Diagnostic } from "./diagnostics.ts";
import { type DiskChange, diffStamps, type Stamps, stampSources, type WatchedFiles } from "./disk-changes.ts";

/** The server cannot answer (timeout, crash, missing program); the reason is said to the agent. */
export class Unavailable extends Error {}

/** The process to start; `program` is `process.execPath` for servers written in JavaScript. */
export interface ServerCommand {
	program: string;
	args: string[];
}

/** One server process (never shared with a restarted one) and what the client keeps about it. */
export interface LiveProcess {
	child: ChildProcess;
	/** The project's source files as the server last saw them. */
	stamps: Stamps;
	/** It has answered once: the project is loaded, later requests get no start allowance. */
	answered: boolean;
}

/** How much of a server's stderr is kept: its last line explains an exit (e.g. a rustup proxy without the tool). */
const STDERR_KEPT = 2000;

function lastLine(text: string): string | undefined {
	return text
		.split(/\r?\n/)
		.map((l) => l.trim())
		.filter(Boolean)
		.at(-1)
		?.slice(0, 300);
}

/** Starting and loading the project is allowed this long, on top of a request's own timeout. */
const START_ALLOWANCE_MS = 60_000;

/**
 * The child's stdin as a stream that drops writes once the server is gone:
 * vscode-jsonrpc turns a failed write into an unhandled rejection, which
 * ends pi; the exit itself is reported by the client.
 */
export function towards(child: ChildProcess): Writable {
	const stdin = child.stdin;
	stdin?.on("error", () => undefined);
	return new Writable({
		write(chunk, encoding, done) {
			if (stdin && !stdin.destroyed && stdin.writable) stdin.write(chunk, encoding, () => done());
			else done();
		},
	});
}

export abstract class WarmServer<L extends LiveProcess> {
	protected live?: L;
	private exitReason?: string;
	/** How many times the server was started (first start included). */
	starts = 0;

	constructor(
		readonly cwd: string,
		readonly command: ServerCommand,
		readonly watched: WatchedFiles,
		/** What to call it in reasons, e.g. "language server", "tsserver". */
		readonly what: string,
	) {}

	/** Wires the protocol onto a freshly spawned process. */
	protected abstract connect(child: ChildProcess, stamps: Stamps): L;
	/** Diagnostics (errors and warnings) of `files` as they are on disk now. */
	protected abstract check(live: L, files: string[]): Promise<Diagnostic[]>;
	/** Drops the protocol side of a process that is going away. */
	protected abstract disconnect(live: L): void;
	/** Asks the server to quit (bounded by the caller). */
	protected abstract farewell(live: L): Promise<void>;

	get running(): boolean {
		return this.live !== undefined;
	}

	get pid(): number | undefined {
		return this.live?.child.pid;
	}

	private start(): L {
		this.starts++;
		this.exitReason = undefined;
		const child = spawn(this.command.program, this.command.args, { cwd: this.cwd, stdio: ["pipe", "pipe", "pipe"] });
		let stderr = "";
		child.stderr?.on("data", (chunk: Buffer) => {
			stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_KEPT);
		});
		const live = this.connect(child, stampSources(this.cwd, this.watched));
		child.on("exit", (code, signal) => {
			const said = lastLine(stderr);
			this.ended(live, `${this.what} exited (${signal ?? `code ${code}`})${said ? `: ${said}` : ""}`);
		});
		child.on("error", (error) => this.ended(live, `${this.what} could not start: ${error.message}`));
		this.live = live;
		return live;
	}

	private ended(live: L, reason: string): void {
		if (this.live !== live) return;
		this.exitReason = reason;
		this.reset();
	}

	private reset(): void {
		const live = this.live;
		this.live = undefined;
		if (!live) return;
		this.disconnect(live);
		if (live.child.exitCode === null) live.child.kill("SIGKILL");
	}

	/** The exit reason when the process is gone, for a request that failed because of it. */
	protected failure(error: unknown): string {
		return this.exitReason ?? (error as Error).message;
	}

	/** Source files changed on disk since the server last looked (and now seen). */
	protected diskChanges(live: L): DiskChange[] {
		const stamps = stampSources(this.cwd, this.watched);
		const changes = diffStamps(live.stamps, stamps);
		live.stamps = stamps;
		return changes;
	}

	/**
	 * Diagnostics for `files` (absolute paths). Throws Unavailable with the
	 * reason on a timeout or crash; such a server is not asked again, the
	 * next call starts a fresh one.
	 */
	async diagnostics(files: string[], timeoutMs: number): Promise<Diagnostic[]> {
		let timer: NodeJS.Timeout | undefined;
		const live = this.live ?? this.start();
		const limit = timeoutMs + (live.answered ? 0 : START_ALLOWANCE_MS);
		const timeout = new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new Unavailable(`timed out after ${limit / 1000}s`)), limit);
		});
		try {
			const found = await Promise.race([this.check(live, files), timeout]);
			live.answered = true;
			return found;
		} catch (error) {
			const reason = error instanceof Unavailable ? error.message : this.failure(error);
			if (this.live === live) this.reset();
			throw new Unavailable(reason);
		} finally {
			clearTimeout(timer);
		}
	}

	/** Immediate kill (process exit). */
	kill(): void {
		this.reset();
	}

	/** Polite shutdown, then a kill if the server lingers. */
	async stop(): Promise<void> {
		const live = this.live;
		if (!live) return;
		this.live = undefined;
		try {
			await Promise.race([this.farewell(live), new Promise((r) => setTimeout(r, 1000))]);
		} catch {
			// already gone
		}
		this.disconnect(live);
		setTimeout(() => live.child.exitCode === null && live.child.kill("SIGKILL"), 500).unref();
	}
}
