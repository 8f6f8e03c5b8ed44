/**
 * A diagnostics client for any language server over LSP (vscode-jsonrpc):
 * TypeScript 7's `tsc --lsp --stdio`, pyright, gopls, rust-analyzer. Keeps
 * the written files open with the text on disk, tells the server about
 * other files changed on disk, and asks for diagnostics by pull
 * (`textDocument/diagnostic`) or, for servers that only push, waits for the
 * `publishDiagnostics` of the new version.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
	createMessageConnection,
	type MessageConnection,
	StreamMessageReader,
	StreamMessageWriter,
} from "vscode-jsonrpc/node.js";
import { posixRelative } from "../shared/posix-path.ts";
import type { Diagnostic } from "./diagnostics.ts";
import type { Stamps, WatchedFiles } from "./disk-changes.ts";
import { type LiveProcess, type ServerCommand, towards, WarmServer } from "./warm-server.ts";

export interface LspOptions {
	/** File extension → LSP language id; other files are not sent. */
	languageIds: Record<string, string>;
	watched: WatchedFiles;
	/** "pull": `textDocument/diagnostic` right after the change; "push": wait for `publishDiagnostics`. */
	diagnostics: "pull" | "push";
	/** How a diagnostic's code is shown, e.g. 2322 → "TS2322" (default: as the server sends it). */
	code?: (code: string | number) => string;
	/** Answers to `workspace/configuration` by section; other sections get null (the server's defaults). */
	settings?: Record<string, unknown>;
}

interface LspDiagnostic {
	range: { start: { line: number; character: number } };
	severity?: number;
	code?: string | number;
	message: string;
}

interface Published {
	version?: number;
	items: LspDiagnostic[];
	/** Counts publications, so a wait can tell a new one from the last. */
	serial: number;
}

interface LiveLsp extends LiveProcess {
	connection: MessageConnection;
	/** Open documents: version and the text the server has. */
	open: Map<string, { version: number; text: string }>;
	/** Push servers: the latest publication per URI, the serial it had when the text was last sent, who waits. */
	published: Map<string, Published>;
	sentAt: Map<string, number>;
	/** Per file, the publication an earlier check already waited to settle (answered at once while it is the last). */
	settled: Map<string, number>;
	/** Who waits for the next publication of a file (a write check and a /gates run may wait on one file). */
	waiters: Map<string, (() => void)[]>;
	ready: Promise<void>;
}

const FILE_EVENT: Record<string, number> = { created: 1, changed: 2, deleted: 3 };
/** Push-only servers: how long a file must stay without a new publication before its last one is the answer. */
const PUSH_SETTLE_MS = 150;

export class LspClient extends WarmServer<LiveLsp> {
	constructor(
		cwd: string,
		command: ServerCommand,
		readonly options: LspOptions,
	) {
		super(cwd, command, options.watched, "language server");
	}

	/** Whether the server handles this file (by extension). */
	serves(path: string): boolean {
		return this.options.languageIds[extname(path)] !== undefined;
	}

	protected connect(child: ChildProcess, stamps: Stamps): LiveLsp {
		const connection = createMessageConnection(
			new StreamMessageReader(child.stdout!),
			new StreamMessageWriter(towards(child)),
		);
		const published = new Map<string, Published>();
		const waiters = new Map<string, (() => void)[]>();
		connection.onRequest("workspace/configuration", (params: { items?: { section?: string }[] }) =>
			(params.items ?? []).map((item) => (item.section && this.options.settings?.[item.section]) ?? null),
		);
		connection.onRequest("client/registerCapability", () => null);
		connection.onRequest("client/unregisterCapability", () => null);
		connection.onRequest("window/workDoneProgress/create", () => null);
		connection.onRequest("workspace/diagnostic/refresh", () => null);
		connection.onNotification(
			"textDocument/publishDiagnostics",
			(params: { uri: string; version?: number; diagnostics: LspDiagnostic[] }) => {
				const serial = (published.get(params.uri)?.serial ?? 0) + 1;
				published.set(params.uri, { version: params.version, items: params.diagnostics, serial });
				const waiting = waiters.get(params.uri) ?? [];
				waiters.delete(params.uri);
				for (const wake of waiting) wake();
			},
		);
		connection.onError(() => undefined);
		connection.listen();
		const root = pathToFileURL(this.cwd).href;
		const ready = (async () => {
			await connection.sendRequest("initialize", {
				processId: process.pid,
				rootUri: root,
				workspaceFolders: [{ uri: root, name: "project" }],
				capabilities: {
					workspace: {
						configuration: true,
						workspaceFolders: true,
						didChangeWatchedFiles: { dynamicRegistration: true },
					},
					// pyright serves pull diagnostics only to clients that accept its dynamic registration
					textDocument: {
						diagnostic: { dynamicRegistration: true },
						synchronization: { didSave: false },
						publishDiagnostics: { versionSupport: true },
					},
				},
			});
			await connection.sendNotification("initialized", {});
		})();
		return {
			child,
			connection,
			open: new Map(),
			published,
			sentAt: new Map(),
			settled: new Map(),
			waiters,
			stamps,
			answered: false,
			ready,
		};
	}

	protected disconnect(live: LiveLsp): void {
		live.connection.dispose();
	}

	protected async farewell(live: LiveLsp): Promise<void> {
		await live.connection.sendRequest("shutdown");
		await live.connection.sendNotification("exit");
	}

	/** Brings the server's view up to date with the disk: open documents re-sent, other changed files announced. */
	private async sync(live: LiveLsp, requested: string[]): Promise<void> {
		const { connection, open } = live;
		const events: { uri: string; type: number }[] = [];
		for (const change of this.diskChanges(live)) {
			const uri = pathToFileURL(change.path).href;
			if (open.has(uri) || requested.includes(change.path)) continue; // sent as document text below
			events.push({ uri, type: FILE_EVENT[change.kind] as number });
		}
		if (events.length > 0) await connection.sendNotification("workspace/didChangeWatchedFiles", { changes: events });
		const toSend = new Set([...requested, ...[...open.keys()].map((uri) => fileURLToPath(uri))]);
		for (const file of toSend) {
			const uri = pathToFileURL(file).href;
			const doc = open.get(uri);
			if (!existsSync(file)) {
				if (doc) {
					open.delete(uri);
					await connection.sendNotification("textDocument/didClose", { textDocument: { uri } });
				}
				continue;
			}
			const text = readFileSync(file, "utf8");
			if (!doc) {
				if (!requested.includes(file)) continue;
				open.set(uri, { version: 1, text });
				live.sentAt.set(uri, live.published.get(uri)?.serial ?? 0);
				const languageId = this.options.languageIds[extname(file)];
				await connection.sendNotification("textDocument/didOpen", {
					textDocument: { uri, languageId, version: 1, text },
				});
			} else if (doc.text !== text) {
				const version = doc.version + 1;
				open.set(uri, { version, text });
				live.sentAt.set(uri, live.published.get(uri)?.serial ?? 0);
				await connection.sendNotification("textDocument/didChange", {
					textDocument: { uri, version },
					contentChanges: [{ text }],
				});
			}
		}
	}

	protected async check(live: LiveLsp, files: string[]): Promise<Diagnostic[]> {
		const served = files.filter((f) => this.serves(f));
		await live.ready;
		await this.sync(live, served);
		const results = await Promise.all(
			served.map(async (file) => {
				const uri = pathToFileURL(file).href;
				if (!live.open.has(uri)) return [];
				const items = this.options.diagnostics === "pull" ? await this.pulled(live, uri) : await this.pushed(live, uri);
				return items.flatMap((d) => this.convert(file, d));
			}),
		);
		return results.flat();
	}

	private async pulled(live: LiveLsp, uri: string): Promise<LspDiagnostic[]> {
		const report = (await live.connection.sendRequest("textDocument/diagnostic", { textDocument: { uri } })) as {
			items?: LspDiagnostic[];
		};
		return report.items ?? [];
	}

	/**
	 * The publication after the text was last sent (of its version when the server says versions). A server may
	 * publish one version in parts (rust-analyzer: syntax, then semantics), so the answer is the last publication
	 * once the file has been quiet for PUSH_SETTLE_MS.
	 */
	private async pushed(live: LiveLsp, uri: string): Promise<LspDiagnostic[]> {
		const version = live.open.get(uri)?.version ?? 0;
		const sentAt = live.sentAt.get(uri) ?? 0;
		const current = (p: Published | undefined) =>
			p !== undefined && p.serial > sentAt && (p.version === undefined || p.version >= version);
		const next = () =>
			new Promise<void>((resolve) => live.waiters.set(uri, [...(live.waiters.get(uri) ?? []), resolve]));
		while (!current(live.published.get(uri))) await next();
		if (live.settled.get(uri) === live.published.get(uri)?.serial) return live.published.get(uri)?.items ?? [];
		for (;;) {
			const seen = live.published.get(uri)?.serial;
			await Promise.race([next(), new Promise((resolve) => setTimeout(resolve, PUSH_SETTLE_MS))]);
			if (live.published.get(uri)?.serial === seen) break;
		}
		live.settled.set(uri, live.published.get(uri)?.serial ?? 0);
		return live.published.get(uri)?.items ?? [];
	}

	private convert(file: string, d: LspDiagnostic): Diagnostic[] {
		const severity = d.severity ?? 1;
		if (severity > 2) return []; // hints ("declared but never read") and information
		const code = d.code === undefined ? undefined : this.options.code ? this.options.code(d.code) : String(d.code);
		const rel = posixRelative(this.cwd, file);
		return [
			{
				file: rel,
				line: d.range.start.line + 1,
				col: d.range.start.character + 1,
				severity: severity === 1 ? "error" : "warning",
				message: d.message,
				code,
			},
		];
	}
}
