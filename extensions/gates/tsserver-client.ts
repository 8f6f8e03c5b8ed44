/**
 * A diagnostics client speaking tsserver's own protocol, for projects with a
 * TypeScript older than 7 of their own (`node_modules/typescript/lib/tsserver.js`):
 * the written files are kept open with `updateOpen` (their text as on disk),
 * then `syntacticDiagnosticsSync` and `semanticDiagnosticsSync` per file —
 * no typing debounce in between (typescript-language-server waits 300–800 ms
 * after every change). Requests are one JSON line each on stdin; answers and
 * events come back framed by `Content-Length` headers and matched to their
 * request by `request_seq`.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { posixRelative } from "../shared/posix-path.ts";
import type { Diagnostic } from "./diagnostics.ts";
import { type Stamps, TS_WATCHED } from "./disk-changes.ts";
import { type LiveProcess, type ServerCommand, WarmServer } from "./warm-server.ts";

const TS_EXTENSIONS = new Set(TS_WATCHED.extensions);

/** A message from tsserver: a response to a request, or an event. */
export interface TsServerMessage {
	type: "response" | "event" | string;
	request_seq?: number;
	success?: boolean;
	command?: string;
	message?: string;
	event?: string;
	body?: unknown;
}

/**
 * Splits tsserver's output into messages: `Content-Length: N\r\n\r\n` then
 * N bytes of JSON (N counts bytes, not characters), in chunks of any size.
 */
export class TsServerReader {
	private buffer: Buffer = Buffer.alloc(0);

	constructor(private readonly onMessage: (message: TsServerMessage) => void) {}

	push(chunk: Buffer): void {
		this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
		for (;;) {
			const headerEnd = this.buffer.indexOf("\r\n\r\n");
			if (headerEnd < 0) return;
			const header = this.buffer.subarray(0, headerEnd).toString("ascii");
			const length = /Content-Length: *(\d+)/i.exec(header)?.[1];
			if (length === undefined)
				throw new Error(`tsserver sent a message without Content-Length: ${header.slice(0, 80)}`);
			const start = headerEnd + 4;
			const end = start + Number(length);
			if (this.buffer.length < end) return;
			const body = this.buffer.subarray(start, end).toString("utf8");
			this.buffer = this.buffer.subarray(end);
			this.onMessage(JSON.parse(body) as TsServerMessage);
		}
	}
}

interface TsDiagnostic {
	start: { line: number; offset: number };
	text: string;
	code?: number;
	category: string;
}

interface Pending {
	resolve: (body: unknown) => void;
	reject: (error: Error) => void;
}

interface LiveTsServer extends LiveProcess {
	seq: number;
	pending: Map<number, Pending>;
	/** Open files and the text tsserver has for them. */
	open: Map<string, string>;
	/** Set when the process is gone: later requests fail at once. */
	gone?: Error;
}

/** Line and offset (both 1-based) just past the end of `text`, as tsserver counts them. */
export function endOf(text: string): { line: number; offset: number } {
	const lines = text.split("\n");
	return { line: lines.length, offset: (lines.at(-1) as string).length + 1 };
}

export class TsServerClient extends WarmServer<LiveTsServer> {
	constructor(cwd: string, command: ServerCommand) {
		super(cwd, command, TS_WATCHED, "tsserver");
	}

	serves(path: string): boolean {
		return TS_EXTENSIONS.has(extname(path));
	}

	protected connect(child: ChildProcess, stamps: Stamps): LiveTsServer {
		const live: LiveTsServer = { child, stamps, answered: false, seq: 0, pending: new Map(), open: new Map() };
		const reader = new TsServerReader((message) => {
			if (message.type !== "response" || message.request_seq === undefined) return; // events
			const pending = live.pending.get(message.request_seq);
			if (!pending) return;
			live.pending.delete(message.request_seq);
			if (message.success === false)
				pending.reject(new Error(`tsserver ${message.command}: ${message.message ?? "failed"}`));
			else pending.resolve(message.body);
		});
		child.stdout?.on("data", (chunk: Buffer) => {
			try {
				reader.push(chunk);
			} catch (error) {
				this.fail(live, error as Error);
			}
		});
		child.stdin?.on("error", () => undefined);
		child.on("exit", (code, signal) => this.fail(live, new Error(`tsserver exited (${signal ?? `code ${code}`})`)));
		child.on("error", (error) => this.fail(live, error));
		return live;
	}

	private fail(live: LiveTsServer, error: Error): void {
		live.gone ??= error;
		for (const p of live.pending.values()) p.reject(error);
		live.pending.clear();
	}

	/** Writes one request; with `answer`, resolves with the response body. */
	private send(live: LiveTsServer, command: string, args: unknown, answer: true): Promise<unknown>;
	private send(live: LiveTsServer, command: string, args: unknown, answer: false): void;
	private send(live: LiveTsServer, command: string, args: unknown, answer: boolean): Promise<unknown> | undefined {
		if (live.gone) return answer ? Promise.reject(live.gone) : undefined;
		const seq = ++live.seq;
		const stdin = live.child.stdin;
		const line = `${JSON.stringify({ seq, type: "request", command, arguments: args })}\n`;
		if (!answer) {
			if (stdin?.writable) stdin.write(line);
			return;
		}
		return new Promise((resolve, reject) => {
			live.pending.set(seq, { resolve, reject });
			if (stdin?.writable) stdin.write(line);
			else this.fail(live, new Error("tsserver's input is closed"));
		});
	}

	protected disconnect(live: LiveTsServer): void {
		this.fail(live, new Error("tsserver stopped"));
	}

	protected async farewell(live: LiveTsServer): Promise<void> {
		this.send(live, "exit", undefined, false);
		live.child.stdin?.end();
	}

	/**
	 * Brings tsserver up to date with the disk: written files opened or
	 * changed with their text, vanished ones closed, and when other sources
	 * changed behind its back, its projects reloaded from disk.
	 */
	private async sync(live: LiveTsServer, requested: string[]): Promise<void> {
		const requestedSet = new Set(requested);
		const elsewhere = this.diskChanges(live).some((c) => !live.open.has(c.path) && !requestedSet.has(c.path));
		const openFiles: { file: string; fileContent: string; projectRootPath: string }[] = [];
		const changedFiles: {
			fileName: string;
			textChanges: {
				start: { line: number; offset: number };
				end: { line: number; offset: number };
				newText: string;
			}[];
		}[] = [];
		const closedFiles: string[] = [];
		for (const file of new Set([...requested, ...live.open.keys()])) {
			const had = live.open.get(file);
			if (!existsSync(file)) {
				if (had !== undefined) {
					live.open.delete(file);
					closedFiles.push(file);
				}
				continue;
			}
			const text = readFileSync(file, "utf8");
			if (had === undefined) {
				if (!requestedSet.has(file)) continue;
				openFiles.push({ file, fileContent: text, projectRootPath: this.cwd });
			} else if (had !== text) {
				changedFiles.push({
					fileName: file,
					textChanges: [{ start: { line: 1, offset: 1 }, end: endOf(had), newText: text }],
				});
			} else continue;
			live.open.set(file, text);
		}
		if (openFiles.length + changedFiles.length + closedFiles.length > 0)
			await this.send(live, "updateOpen", { openFiles, changedFiles, closedFiles }, true);
		// reloadProjects has no response; tsserver handles requests in order, so the next one sees its result.
		if (elsewhere) this.send(live, "reloadProjects", undefined, false);
	}

	protected async check(live: LiveTsServer, files: string[]): Promise<Diagnostic[]> {
		const served = files.filter((f) => this.serves(f));
		await this.sync(live, served);
		// All requests written at once (tsserver answers in order), each answer matched to its file.
		const asked = served
			.filter((file) => live.open.has(file))
			.flatMap((file) =>
				["syntacticDiagnosticsSync", "semanticDiagnosticsSync"].map(async (command) => {
					const items = await this.send(live, command, { file, includeLinePosition: false }, true);
					return ((items ?? []) as TsDiagnostic[]).flatMap((d) => this.convert(file, d));
				}),
			);
		return (await Promise.all(asked)).flat();
	}

	private convert(file: string, d: TsDiagnostic): Diagnostic[] {
		if (d.category !== "error" && d.category !== "warning") return []; // suggestions and messages
		const rel = posixRelative(this.cwd, file);
		return [
			{
				file: rel,
				line: d.start.line,
				col: d.start.offset,
				severity: d.category,
				message: d.text,
				code: d.code === undefined ? undefined : `TS${d.code}`,
			},
		];
	}
}
