/**
 * One on-write batch with a fake language server: findings per file,
 * non-JS/TS files left out, and files that still had errors asked again so
 * the footer's mark follows a later write that fixed them.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../extensions/gates/diagnostics.ts";
import type { GateResult } from "../../extensions/gates/messages.ts";
import type { Gate } from "../../extensions/gates/plan.ts";
import type { DiagnosticServers } from "../../extensions/gates/server-pool.ts";
import { CheckMemory, checkWrites } from "../../extensions/gates/write-check.ts";

const cwd = mkdtempSync(join(tmpdir(), "pi-loop-gates-write-check-"));
const gate: Gate = {
	name: "types",
	languageServer: "typescript",
	glob: "**/*",
	kind: "onWrite",
	timeout: 5,
	origin: "config",
	source: "config",
};

/** Servers answering with `diagnose` for TS/JS files (by extension, as the real pool does). */
function fakeServers(
	diagnose: (files: string[]) => Promise<Diagnostic[]> | Diagnostic[],
	unavailable = new Map<string, string>(),
): DiagnosticServers {
	return {
		serves: (_name: string, file: string) => /\.[cm]?[jt]sx?$/.test(file),
		diagnostics: async (_name: string, files: string[]) => ({ found: await diagnose(files), unavailable }),
	} as unknown as DiagnosticServers;
}

/** A server that reports an error for every file whose text contains "BROKEN"; records what it was asked. */
function fakeServer(asked: string[][]): DiagnosticServers {
	return fakeServers(async (files) => {
		asked.push(files.map((f) => f.slice(cwd.length + 1)));
		const { readFileSync } = await import("node:fs");
		return files.flatMap((f): Diagnostic[] =>
			readFileSync(f, "utf8").includes("BROKEN")
				? [{ file: f.slice(cwd.length + 1), line: 1, col: 1, severity: "error", message: "broken", code: "TS1" }]
				: [],
		);
	});
}

describe("checkWrites", () => {
	it("asks again about files that still had errors, so the mark turns ✓ when a later write fixed them", async () => {
		const asked: string[][] = [];
		const results: GateResult[] = [];
		const deps = {
			cwd,
			gates: [gate],
			servers: () => fakeServer(asked),
			memory: new CheckMemory(),
			record: (r: GateResult) => results.push(r),
		};
		writeFileSync(join(cwd, "use.ts"), "BROKEN until lib exists");
		const first = await checkWrites(deps, [join(cwd, "use.ts")]);
		expect(first.get(join(cwd, "use.ts"))).toContain("use.ts:1:1 error TS1: broken");
		expect(results.at(-1)).toMatchObject({ status: "failed", detail: "errors in use.ts" });
		writeFileSync(join(cwd, "use.ts"), "fine now"); // fixed by the write of lib.ts, as far as the server is concerned
		writeFileSync(join(cwd, "lib.ts"), "export");
		const second = await checkWrites(deps, [join(cwd, "lib.ts")]);
		expect(asked.at(-1)).toEqual(["lib.ts", "use.ts"]);
		expect([...second.keys()]).toEqual([join(cwd, "lib.ts")]);
		expect(results.at(-1)).toMatchObject({ status: "passed" });
	});

	it("leaves files the server does not handle out, instead of calling them clean", async () => {
		const deps = { cwd, gates: [gate], servers: () => fakeServer([]), memory: new CheckMemory(), record: () => {} };
		writeFileSync(join(cwd, "notes.md"), "BROKEN");
		expect((await checkWrites(deps, [join(cwd, "notes.md")])).size).toBe(0);
	});

	it("an error found while asking again about another write is still new when its file is written next", async () => {
		const results: GateResult[] = [];
		const deps = {
			cwd,
			gates: [gate],
			servers: () => fakeServer([]),
			memory: new CheckMemory(),
			record: (r: GateResult) => results.push(r),
		};
		writeFileSync(join(cwd, "b.ts"), "BROKEN one way");
		await checkWrites(deps, [join(cwd, "b.ts")]);
		writeFileSync(join(cwd, "b2.ts"), "x");
		const server = fakeServers((files) =>
			files.flatMap((f): Diagnostic[] =>
				f.endsWith("b.ts")
					? [{ file: "b.ts", line: 2, col: 1, severity: "error", message: "broken another way", code: "TS2" }]
					: [],
			),
		);
		await checkWrites({ ...deps, servers: () => server }, [join(cwd, "b2.ts")]);
		expect(results.at(-1)).toMatchObject({ status: "failed", detail: "errors in b.ts" });
		const again = await checkWrites({ ...deps, servers: () => server }, [join(cwd, "b.ts")]);
		expect(again.get(join(cwd, "b.ts"))).toContain("types: 1 error new\n  b.ts:2:1 error TS2: broken another way");
	});

	it("a file whose server could not answer is unavailable, never clean, and the gate's result says why", async () => {
		const results: GateResult[] = [];
		writeFileSync(join(cwd, "u.ts"), "x");
		const servers = fakeServers(() => [], new Map([[join(cwd, "u.ts"), "timed out after 1s"]]));
		const blocks = await checkWrites(
			{ cwd, gates: [gate], servers: () => servers, memory: new CheckMemory(), record: (r) => results.push(r) },
			[join(cwd, "u.ts")],
		);
		expect(blocks.get(join(cwd, "u.ts"))).toBe("[gates]\ntypes: diagnostics unavailable (timed out after 1s)");
		expect(results.at(-1)).toMatchObject({ status: "unavailable", detail: "timed out after 1s" });
	});
});
