/**
 * A TypeScript language server over LSP: TypeScript 7's `tsc --lsp --stdio`
 * (the project's own when it has TypeScript ≥ 7, this package's otherwise),
 * driven by a vscode-jsonrpc client. Started on first use, kept warm, restarted
 * after a crash or a timed-out request, shut down on demand.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Writable } from "node:stream";
import { dirname, extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { readJson } from "../core/detect-checks.ts";
import { posixRelative } from "../shared/posix-path.ts";
import { createMessageConnection, type MessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node.js";
import type { Diagnostic } from "./diagnostics.ts";
import { diffStamps, type Stamps, stampSources } from "./disk-changes.ts";

export interface ServerChoice {
	tsc: string;
	/** e.g. "bundled typescript 7.0.2 (the project has none of its own)". */
	label: string;
}

function versionOf(packageJson: string): string | undefined {
	const version = readJson(packageJson)?.version;
	return typeof version === "string" ? version : undefined;
}

/** The version of the project's own TypeScript (`node_modules/typescript`), if it has one. */
export function projectTypeScript(cwd: string): string | undefined {
	return versionOf(join(cwd, "node_modules", "typescript", "package.json"));
}

/** The project's TypeScript when it is version 7 or later (it has `--lsp`); this package's otherwise. */
export function chooseServer(cwd: string): ServerChoice {
	const ownVersion = projectTypeScript(cwd);
	if (ownVersion && Number.parseInt(ownVersion, 10) >= 7) return { tsc: join(cwd, "node_modules", "typescript", "bin", "tsc"), label: `project typescript ${ownVersion}` };
	const bundled = createRequire(import.meta.url).resolve("typescript-native/package.json");
	const why = ownVersion ? `the project's typescript ${ownVersion} has no language server mode` : "the project has none of its own";
	return { tsc: join(dirname(bundled), "bin", "tsc"), label: `bundled typescript ${versionOf(bundled)} (${why})` };
}

const LANGUAGE_IDS: Record<string, string> = {
	".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "typescriptreact",
	".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascriptreact",
};

/** Whether the server handles this file (by extension). */
export function servesFile(path: string): boolean {
	return LANGUAGE_IDS[extname(path)] !== undefined;
}

interface LspDiagnostic {
	range: { start: { line: number; character: number } };
	severity?: number;
	code?: string | number;
	message: string;
}

export class Unavailable extends Error {}

/**
 * The server's stdin for the JSON-RPC writer. Writes racing a dying server
 * are dropped instead of failing: vscode-jsonrpc would turn such a failure
 * into an unhandled rejection, which ends pi. The exit itself is reported.
 */
function towards(child: ChildProcess): Writable {
	const stdin = child.stdin;
	stdin?.on("error", () => undefined);
	return new Writable({
		write(chunk, encoding, done) {
			if (stdin && !stdin.destroyed && stdin.writable) stdin.write(chunk, encoding, () => done());
			else done();
		},
	});
}

/** One server process with its connection and the documents it has open (never shared with a restarted one). */
interface Live {
	child: ChildProcess;
	connection: MessageConnection;
	/** Open documents: version and the text the server has. */
	open: Map<string, { version: number; text: string }>;
	/** The project's source files as the server last saw them. */
	stamps: Stamps;
	ready: Promise<void>;
}

/** Starting and loading the project is allowed this long, on top of a request's own timeout. */
const START_ALLOWANCE_MS = 60_000;
const FILE_EVENT: Record<string, number> = { created: 1, changed: 2, deleted: 3 };

export class TypeScriptServer {
	private live?: Live;
	private exitReason?: string;
	/** How many times the server was started (first start included). */
	starts = 0;

	constructor(
		readonly cwd: string,
		readonly choice: ServerChoice = chooseServer(cwd),
	) {}

	get running(): boolean {
		return this.live !== undefined;
	}

	get pid(): number | undefined {
		return this.live?.child.pid;
	}

	private start(): Live {
		this.starts++;
		this.exitReason = undefined;
		const child = spawn(process.execPath, [this.choice.tsc, "--lsp", "--stdio"], { cwd: this.cwd, stdio: ["pipe", "pipe", "ignore"] });
		const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(towards(child)));
		connection.onRequest("workspace/configuration", (params: { items?: unknown[] }) => (params.items ?? []).map(() => null));
		connection.onRequest("client/registerCapability", () => null);
		connection.onRequest("client/unregisterCapability", () => null);
		connection.onRequest("window/workDoneProgress/create", () => null);
		connection.onError(() => undefined);
		connection.listen();
		const root = pathToFileURL(this.cwd).href;
		const ready = (async () => {
			await connection.sendRequest("initialize", {
				processId: process.pid,
				rootUri: root,
				workspaceFolders: [{ uri: root, name: "project" }],
				capabilities: {
					workspace: { configuration: true, workspaceFolders: true },
					textDocument: { diagnostic: { dynamicRegistration: false }, synchronization: { didSave: false }, publishDiagnostics: {} },
				},
			});
			await connection.sendNotification("initialized", {});
		})();
		const live: Live = { child, connection, open: new Map(), stamps: stampSources(this.cwd), ready };
		child.on("exit", (code, signal) => this.ended(live, `language server exited (${signal ?? `code ${code}`})`));
		child.on("error", (error) => this.ended(live, `language server could not start: ${error.message}`));
		this.live = live;
		return live;
	}

	private ended(live: Live, reason: string): void {
		if (this.live !== live) return;
		this.exitReason = reason;
		this.reset();
	}

	private reset(): void {
		const live = this.live;
		this.live = undefined;
		if (!live) return;
		live.connection.dispose();
		if (live.child.exitCode === null) live.child.kill("SIGKILL");
	}

	/**
	 * Diagnostics (errors and warnings) for `files` (absolute paths) as they
	 * are on disk now. Throws Unavailable with the reason on timeout or crash;
	 * a timed-out server is restarted on the next call.
	 */
	async diagnostics(files: string[], timeoutMs: number): Promise<Diagnostic[]> {
		let timer: NodeJS.Timeout | undefined;
		const live = this.live ?? this.start();
		const fresh = this.starts > 0 && live.open.size === 0;
		const limit = timeoutMs + (fresh ? START_ALLOWANCE_MS : 0);
		const timeout = new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new Unavailable(`timed out after ${limit / 1000}s`)), limit);
		});
		try {
			return await Promise.race([this.pull(live, files.filter(servesFile)), timeout]);
		} catch (error) {
			const reason = error instanceof Unavailable ? error.message : (this.exitReason ?? (error as Error).message);
			if (this.live === live) this.reset(); // a stuck or broken server is not asked again
			throw new Unavailable(reason);
		} finally {
			clearTimeout(timer);
		}
	}

	/** Brings the server's view up to date with the disk: open documents re-sent, other changed files announced. */
	private async sync(live: Live, requested: string[]): Promise<void> {
		const { connection, open } = live;
		const stamps = stampSources(this.cwd);
		const changes = diffStamps(live.stamps, stamps);
		live.stamps = stamps;
		const events: { uri: string; type: number }[] = [];
		for (const change of changes) {
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
				await connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: LANGUAGE_IDS[extname(file)] ?? "typescript", version: 1, text } });
			} else if (doc.text !== text) {
				const version = doc.version + 1;
				open.set(uri, { version, text });
				await connection.sendNotification("textDocument/didChange", { textDocument: { uri, version }, contentChanges: [{ text }] });
			}
		}
	}

	private async pull(live: Live, files: string[]): Promise<Diagnostic[]> {
		await live.ready;
		await this.sync(live, files);
		const { connection } = live;
		const results = await Promise.all(
			files.map(async (file) => {
				const uri = pathToFileURL(file).href;
				if (!live.open.has(uri)) return [];
				const report = (await connection.sendRequest("textDocument/diagnostic", { textDocument: { uri } })) as { items?: LspDiagnostic[] };
				return (report.items ?? []).flatMap((d) => this.convert(file, d));
			}),
		);
		return results.flat();
	}

	private convert(file: string, d: LspDiagnostic): Diagnostic[] {
		const severity = d.severity ?? 1;
		if (severity > 2) return []; // hints ("declared but never read") and information
		const code = d.code === undefined ? undefined : typeof d.code === "number" ? `TS${d.code}` : d.code;
		const rel = posixRelative(this.cwd, file);
		return [{ file: rel, line: d.range.start.line + 1, col: d.range.start.character + 1, severity: severity === 1 ? "error" : "warning", message: d.message, code }];
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
			await Promise.race([live.connection.sendRequest("shutdown").then(() => live.connection.sendNotification("exit")), new Promise((r) => setTimeout(r, 1000))]);
		} catch {
			// already gone
		}
		live.connection.dispose();
		setTimeout(() => live.child.exitCode === null && live.child.kill("SIGKILL"), 500).unref();
	}
}
