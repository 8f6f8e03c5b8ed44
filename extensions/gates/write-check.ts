/**
 * The on-write check of one batch of written files: command gates (formatters
 * first, in config order) on the files their globs accept, then language
 * server diagnostics, rendered per file as the block its tool result gets.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { posixRelative } from "../shared/posix-path.ts";
import { commandResult, filesFor, runCommandGate } from "./command-gate.ts";
import { type Diagnostic, type FileFinding, renderFindings } from "./diagnostics.ts";
import type { GateResult } from "./messages.ts";
import type { Gate } from "./plan.ts";
import type { DiagnosticServers } from "./server-pool.ts";

export interface WriteCheckDeps {
	cwd: string;
	gates: Gate[];
	servers: () => DiagnosticServers;
	/** Per gate and file: what the agent was last shown, and what the server last said; updated here. */
	memory: CheckMemory;
	record: (result: GateResult) => void;
}

/**
 * Diagnostics per gate and file. `shown` is what the agent saw in a tool
 * result ("new since the last check" is measured against it); `latest` is
 * the server's last answer, also for files asked again without being shown
 * (the footer and the re-asking go by it).
 */
export class CheckMemory {
	readonly shown = new Map<string, Diagnostic[]>();
	readonly latest = new Map<string, Diagnostic[]>();

	static key(gate: string, file: string): string {
		return `${gate}\u0000${file}`;
	}

	/** Files whose latest check by `gate` found errors. */
	filesWithErrors(gate: string): string[] {
		const prefix = CheckMemory.key(gate, "");
		return [...this.latest]
			.filter(([key, items]) => key.startsWith(prefix) && items.some((d) => d.severity === "error"))
			.map(([key]) => key.slice(prefix.length));
	}

	forget(gate: string, file: string): void {
		this.shown.delete(CheckMemory.key(gate, file));
		this.latest.delete(CheckMemory.key(gate, file));
	}
}

function hashOf(path: string): string | undefined {
	return existsSync(path) ? createHash("sha1").update(readFileSync(path)).digest("hex") : undefined;
}

/** Blocks to append, by absolute path (files no gate looked at are absent). */
export async function checkWrites(deps: WriteCheckDeps, files: string[]): Promise<Map<string, string>> {
	const { cwd } = deps;
	const relFiles = files.map((abs) => posixRelative(cwd, abs));
	const findings = new Map<string, FileFinding[]>(relFiles.map((f) => [f, []]));
	const add = (file: string, finding: FileFinding) => findings.get(file)?.push(finding);
	for (const gate of deps.gates.filter((g) => g.command !== undefined)) {
		const matched = filesFor(gate, relFiles);
		if (matched.length === 0) continue;
		const before = new Map(matched.map((f) => [f, hashOf(resolve(cwd, f))]));
		const outcome = await runCommandGate(gate, cwd, matched);
		deps.record(commandResult(gate, outcome));
		for (const f of matched) {
			if (outcome.status === "passed")
				add(f, { gate: gate.name, status: hashOf(resolve(cwd, f)) === before.get(f) ? "unchanged" : "formatted" });
			else if (outcome.status === "failed")
				add(f, { gate: gate.name, status: "failed", exitCode: outcome.exitCode, output: outcome.output });
			else add(f, { gate: gate.name, status: "unavailable", reason: outcome.reason });
		}
	}
	for (const gate of deps.gates.filter((g) => g.languageServer !== undefined)) {
		const server = gate.languageServer as NonNullable<Gate["languageServer"]>;
		const matched = filesFor(gate, relFiles).filter((f) => deps.servers().serves(server, f));
		if (matched.length === 0) continue;
		// Files written earlier that still had errors are asked again: this write may have fixed them.
		const recheck = deps.memory.filesWithErrors(gate.name).filter((f) => !matched.includes(f));
		for (const f of recheck) if (!existsSync(resolve(cwd, f))) deps.memory.forget(gate.name, f);
		const again = recheck.filter((f) => existsSync(resolve(cwd, f)));
		const asked = [...matched, ...again].map((f) => resolve(cwd, f));
		const { found, unavailable } = await deps.servers().diagnostics(server, asked, gate.timeout * 1000);
		const reasonFor = (f: string) => unavailable.get(resolve(cwd, f));
		const itemsOf = (f: string) => found.filter((d) => d.file === f);
		for (const f of matched) {
			const reason = reasonFor(f);
			add(
				f,
				reason !== undefined
					? { gate: gate.name, status: "unavailable", reason }
					: { gate: gate.name, status: "diagnostics", items: itemsOf(f) },
			);
		}
		for (const f of again)
			if (reasonFor(f) === undefined) deps.memory.latest.set(CheckMemory.key(gate.name, f), itemsOf(f));
		const reasons = [...new Set(matched.flatMap((f) => reasonFor(f) ?? []))];
		if (reasons.length > 0) {
			deps.record({
				gate: gate.name,
				kind: gate.kind,
				status: "unavailable",
				at: Date.now(),
				detail: reasons.join("; "),
			});
		}
	}
	const blocks = new Map<string, string>();
	for (const [i, f] of relFiles.entries()) {
		const list = findings.get(f) ?? [];
		const block = renderFindings(list, (gate) => deps.memory.shown.get(CheckMemory.key(gate, f)));
		for (const finding of list) {
			if (finding.status !== "diagnostics") continue;
			deps.memory.shown.set(CheckMemory.key(finding.gate, f), finding.items);
			deps.memory.latest.set(CheckMemory.key(finding.gate, f), finding.items);
		}
		if (block) blocks.set(files[i] as string, block);
	}
	for (const gate of deps.gates.filter((g) => g.languageServer !== undefined)) {
		if (!relFiles.some((f) => findings.get(f)?.some((x) => x.gate === gate.name && x.status === "diagnostics")))
			continue;
		// The footer says ✗ while any file written so far still has errors, not just the last one checked.
		const failing = deps.memory.filesWithErrors(gate.name);
		deps.record({
			gate: gate.name,
			kind: gate.kind,
			status: failing.length > 0 ? "failed" : "passed",
			at: Date.now(),
			detail: failing.length > 0 ? `errors in ${failing.join(", ")}` : undefined,
		});
	}
	return blocks;
}
