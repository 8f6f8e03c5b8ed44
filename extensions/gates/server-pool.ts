/**
 * The warm diagnostic servers of one project in one pi process: the registry
 * (diagnostic-servers.ts) picks the server for each written file, files
 * answered by the same server go to it together, and each server process is
 * started once and reused. Also what /gates says about them.
 */
import { extname } from "node:path";
import type { LanguageServerName } from "../shared/config.ts";
import { DIAGNOSTIC_SERVERS, type ServerChoice } from "./diagnostic-servers.ts";
import type { Diagnostic } from "./diagnostics.ts";
import { LspClient } from "./lsp-client.ts";
import { TsServerClient } from "./tsserver-client.ts";
import { Unavailable } from "./warm-server.ts";

type Client = LspClient | TsServerClient;

export interface PoolAnswer {
	found: Diagnostic[];
	/** Files no server could answer for, with the reason. */
	unavailable: Map<string, string>;
}

function clientFor(cwd: string, choice: ServerChoice): Client {
	const { protocol, command } = choice;
	if (protocol.kind === "tsserver") return new TsServerClient(cwd, command);
	const code = protocol.codePrefix ? (c: string | number) => `${protocol.codePrefix}${c}` : undefined;
	return new LspClient(cwd, command, {
		languageIds: protocol.languageIds,
		watched: protocol.watched,
		diagnostics: protocol.diagnostics,
		code,
		settings: protocol.settings,
	});
}

export class DiagnosticServers {
	private readonly clients = new Map<string, { name: LanguageServerName; label: string; client: Client }>();

	constructor(readonly cwd: string) {}

	/** Whether the named server is sent this file at all (by extension). */
	serves(name: LanguageServerName, file: string): boolean {
		return DIAGNOSTIC_SERVERS[name].extensions.includes(extname(file));
	}

	/** Diagnostics of `files` (absolute) from the named server(s); a file whose server failed gets the reason. */
	async diagnostics(name: LanguageServerName, files: string[], timeoutMs: number): Promise<PoolAnswer> {
		const answer: PoolAnswer = { found: [], unavailable: new Map() };
		const groups = new Map<string, { choice: ServerChoice; files: string[] }>();
		for (const file of files.filter((f) => this.serves(name, f))) {
			const choice = DIAGNOSTIC_SERVERS[name].choose(this.cwd, file);
			if ("unavailable" in choice) answer.unavailable.set(file, choice.unavailable);
			else {
				const group = groups.get(choice.key) ?? { choice, files: [] };
				group.files.push(file);
				groups.set(choice.key, group);
			}
		}
		for (const [key, { choice, files: group }] of groups) {
			let entry = this.clients.get(key);
			if (!entry) {
				entry = { name, label: choice.label, client: clientFor(this.cwd, choice) };
				this.clients.set(key, entry);
			}
			try {
				answer.found.push(...(await entry.client.diagnostics(group, timeoutMs)));
			} catch (error) {
				if (!(error instanceof Unavailable)) throw error;
				for (const f of group) answer.unavailable.set(f, error.message);
			}
		}
		return answer;
	}

	/** For /gates: the server the project root gets, and every one started so far. */
	describe(name: LanguageServerName): string {
		const lines: string[] = [];
		const choice = DIAGNOSTIC_SERVERS[name].choose(this.cwd);
		const rootKey = "unavailable" in choice ? undefined : choice.key;
		if ("unavailable" in choice) lines.push(`${name}: unavailable — ${choice.unavailable}`);
		else if (!this.clients.has(choice.key)) lines.push(`${name}: ${choice.label}; starts on the first write`);
		for (const [key, { name: of, label, client }] of this.clients) {
			if (of !== name) continue;
			const state = client.running
				? `running, pid ${client.pid} (started ${client.starts}×)`
				: `not running (started ${client.starts}×)`;
			lines.push(`${name}: ${label}; ${state}${key === rootKey ? "" : " (for a subproject)"}`);
		}
		return lines.join("\n");
	}

	kill(): void {
		for (const { client } of this.clients.values()) client.kill();
	}

	async stop(): Promise<void> {
		await Promise.all([...this.clients.values()].map(({ client }) => client.stop()));
	}
}
