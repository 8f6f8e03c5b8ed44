/**
 * The tsserver client: the framing of tsserver's output (any chunking,
 * byte lengths with multi-byte characters), answers matched by sequence
 * number, a crashed or hanging server reported unavailable and replaced —
 * against a scripted stand-in (test/support/fake-tsserver.mjs) — and real
 * diagnostics from this checkout's TypeScript 5.9 tsserver, also after
 * files changed on disk behind its back.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { endOf, TsServerClient, type TsServerMessage, TsServerReader } from "../../extensions/gates/tsserver-client.ts";
import { Unavailable } from "../../extensions/gates/warm-server.ts";
import { REPO_ROOT } from "../support/harness.ts";
import { tempTree } from "../support/temp-tree.ts";

const FAKE = join(REPO_ROOT, "test", "support", "fake-tsserver.mjs");
const REAL = join(REPO_ROOT, "node_modules", "typescript", "lib", "tsserver.js");
const clients: TsServerClient[] = [];
const client = (cwd: string, script: string) => {
	const c = new TsServerClient(cwd, {
		program: process.execPath,
		args: [script, "--disableAutomaticTypingAcquisition"],
	});
	clients.push(c);
	return c;
};
afterAll(async () => {
	await Promise.all(clients.map((c) => c.stop()));
});

function frame(body: object): Buffer {
	const json = `${JSON.stringify(body)}\n`;
	return Buffer.from(`Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
}

describe("TsServerReader", () => {
	it("splits messages by their byte length, however the output is chunked", () => {
		const got: TsServerMessage[] = [];
		const reader = new TsServerReader((m) => got.push(m));
		const a = { type: "response", request_seq: 1, success: true, body: "naïve – ünïcödé" };
		const b = { type: "event", event: "projectLoadingFinish" };
		const all = Buffer.concat([frame(a), frame(b)]);
		for (let i = 0; i < all.length; i++) reader.push(all.subarray(i, i + 1)); // one byte at a time
		reader.push(all); // both in one chunk
		expect(got).toEqual([a, b, a, b]);
	});
	it("refuses output that is not framed", () => {
		const reader = new TsServerReader(() => undefined);
		expect(() => reader.push(Buffer.from("Hello\r\n\r\n{}"))).toThrow(
			"tsserver sent a message without Content-Length: Hello",
		);
	});
	it("knows where a text ends in tsserver's 1-based lines and offsets", () => {
		expect(endOf("")).toEqual({ line: 1, offset: 1 });
		expect(endOf("ab\ncd")).toEqual({ line: 2, offset: 3 });
		expect(endOf("ab\n")).toEqual({ line: 2, offset: 1 });
	});
});

describe("TsServerClient against a scripted tsserver", () => {
	const dir = tempTree("pi-loop-tsserver-fake-", { "a.ts": "ERR", "ok.ts": "fine" });
	const server = client(dir, FAKE);

	it("takes each answer for its own request, skipping events and answers to other requests", async () => {
		expect(await server.diagnostics([join(dir, "a.ts"), join(dir, "ok.ts"), join(dir, "notes.md")], 20_000)).toEqual([
			{
				file: "a.ts",
				line: 1,
				col: 14,
				severity: "error",
				code: "TS2322",
				message: "Type 'string' is not assignable to type 'number' (café).",
			},
		]);
		writeFileSync(join(dir, "a.ts"), "fixed");
		expect(await server.diagnostics([join(dir, "a.ts")], 5_000)).toEqual([]);
		expect(server.starts).toBe(1);
	});
	it("a server that crashes is unavailable with its exit, and the next call starts a new one", async () => {
		writeFileSync(join(dir, "a.ts"), "CRASH");
		await expect(server.diagnostics([join(dir, "a.ts")], 5_000)).rejects.toThrow(
			new Unavailable("tsserver exited (code 3)"),
		);
		expect(server.running).toBe(false);
		writeFileSync(join(dir, "a.ts"), "ERR again");
		expect((await server.diagnostics([join(dir, "a.ts")], 20_000)).map((d) => d.code)).toEqual(["TS2322"]);
		expect(server.starts).toBe(2);
	});
	it("a hanging server is unavailable after the timeout (never clean), killed, and replaced next call", async () => {
		const pid = server.pid as number;
		writeFileSync(join(dir, "a.ts"), "HANG");
		await expect(server.diagnostics([join(dir, "a.ts")], 300)).rejects.toThrow(new Unavailable("timed out after 0.3s"));
		expect(server.running).toBe(false);
		await new Promise((r) => setTimeout(r, 100));
		expect(() => process.kill(pid, 0)).toThrow(); // the stuck process is gone
		writeFileSync(join(dir, "a.ts"), "fine");
		expect(await server.diagnostics([join(dir, "a.ts")], 20_000)).toEqual([]);
		expect(server.starts).toBe(3);
	});
});

describe("TsServerClient on TypeScript 5.9's own tsserver", { timeout: 60_000 }, () => {
	const dir = tempTree("pi-loop-tsserver-real-", {
		"tsconfig.json": JSON.stringify({
			compilerOptions: { strict: true, target: "ES2022", module: "NodeNext", noEmit: true, noUnusedLocals: true },
		}),
		"src/lib.ts": "export const foo = 1;\n",
	});
	const server = client(dir, REAL);
	const value = join(dir, "src", "value.ts");

	it("reports a type error with position and code, then nothing once fixed; no unused-variable hints", async () => {
		writeFileSync(value, 'export const answer: number = "forty-two";\n');
		expect(await server.diagnostics([value], 30_000)).toEqual([
			{
				file: "src/value.ts",
				line: 1,
				col: 14,
				severity: "error",
				code: "TS2322",
				message: "Type 'string' is not assignable to type 'number'.",
			},
		]);
		writeFileSync(value, "export const answer: number = 42;\nfunction f(unused: number) {}\nexport { f };\n");
		expect(await server.diagnostics([value], 30_000)).toEqual([]);
	});
	it("reports syntax errors too", async () => {
		writeFileSync(value, "export const answer: number = ;\n");
		expect((await server.diagnostics([value], 30_000)).map((d) => d.code)).toEqual(["TS1109"]);
	});
	it("sees a file changed on disk behind its back (not open: never written through the gate)", async () => {
		const user = join(dir, "src", "user.ts");
		writeFileSync(user, 'import { foo } from "./lib.js";\nexport const u: number = foo;\n');
		expect(await server.diagnostics([user], 30_000)).toEqual([]);
		writeFileSync(join(dir, "src", "lib.ts"), 'export const foo = "one";\n');
		expect((await server.diagnostics([user], 30_000)).map((d) => `${d.line}:${d.code}`)).toEqual(["2:TS2322"]);
		expect(server.starts).toBe(1);
	});
});
