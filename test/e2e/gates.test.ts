/**
 * Gates end to end: the real pi CLI with this package and the scripted model,
 * on a TypeScript fixture that has no TypeScript of its own (diagnostics come
 * from the bundled language server) and prettier as its formatter; then
 * projects with their own TypeScript 5.9 (its tsserver) or 7 (its
 * `tsc --lsp`), a tsserver that hangs, and a Python project (pyright).
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
	FAILING_TESTS,
	type Fixture,
	makeFixture,
	REPO_ROOT,
	requests,
	runPrint,
	setScript,
	tsFixture,
	waitFor,
} from "../support/harness.ts";
import { RpcClient } from "../support/rpc-client.ts";
import type { LoggedRequest } from "../support/scripted-model.ts";
import { hasTmux, screen, startInteractive, stopInteractive, tmux } from "../support/tmux.ts";

/** Text of the tool results the model was sent in request `call`. */
function toolResults(req: LoggedRequest | undefined): string[] {
	return (req?.messages ?? []).filter((m) => m.role === "toolResult").map((m) => m.text);
}

function userMessages(fx: Fixture): string[] {
	const last = requests(fx).at(-1);
	return (last?.messages ?? []).filter((m) => m.role === "user").map((m) => m.text);
}

describe("gates in print mode", () => {
	const typeErrorRoundTrip =
		"a type error comes back in the write's tool result, the fix comes back clean, and prettier formats on disk";
	it(typeErrorRoundTrip, async () => {
		const fx = tsFixture();
		setScript(fx, {
			steps: [
				{
					write: {
						path: "src/use.ts",
						content: 'import {sum} from "./math.js"\nexport const total: string = sum(1,2)\n',
					},
				},
				{ edit: { path: "src/use.ts", oldText: "total: string", newText: "total: number" } },
				{ text: "done" },
			],
		});
		const result = await runPrint(fx, "add a use of sum");
		expect(result.code, result.stderr).toBe(0);
		const [afterWrite, afterEdit] = [toolResults(requests(fx)[1]), toolResults(requests(fx)[2])];
		expect(afterWrite[0]).toContain("[gates]");
		expect(afterWrite[0]).toContain("prettier: formatted on disk");
		expect(afterWrite[0]).toMatch(
			/typescript: 1 error new\n {2}src\/use\.ts:2:14 error TS2322: Type 'number' is not assignable to type 'string'\./,
		);
		expect(afterEdit.at(-1)).toContain("typescript: clean");
		expect(readFileSync(join(fx.project, "src/use.ts"), "utf8")).toBe(
			'import { sum } from "./math.js";\nexport const total: number = sum(1, 2);\n',
		);
		// On done, the detected test script ran and passed.
		expect(result.stderr).toContain("gates: ✓ tests");
	});

	it("failing tests on done: exactly two fix rounds, then a stop message and exit code 1", async () => {
		const fx = tsFixture({ tests: FAILING_TESTS });
		setScript(fx, {
			steps: [{ write: { path: "src/a.ts", content: "export const a = 1;\n" } }, { text: "done" }],
			fallback: { text: "I could not fix it" },
		});
		const result = await runPrint(fx, "make a");
		expect(result.code).toBe(1);
		const fixes = userMessages(fx).filter((t) => t.startsWith("[gates] The project's checks failed"));
		expect(fixes).toHaveLength(2);
		expect(fixes[0]).toContain("fix round 1 of 2");
		expect(fixes[0]).toContain("1 failed: sum");
		expect(fixes[1]).toContain("fix round 2 of 2");
		expect(requests(fx)).toHaveLength(4);
		expect(result.stderr).toContain("gates: still failing after 2 fix rounds: tests");
	});

	it("a hanging on-write gate is reported as unavailable after its timeout, never as clean", async () => {
		const fx = tsFixture({
			config: { gates: { onWrite: [{ name: "slow-lint", command: "sleep 30 # {files}", timeout: 1 }], onDone: [] } },
		});
		setScript(fx, { steps: [{ write: { path: "src/b.ts", content: "export const b = 2;\n" } }, { text: "done" }] });
		const started = Date.now();
		const result = await runPrint(fx, "make b");
		expect(result.code, result.stderr).toBe(0);
		expect(Date.now() - started).toBeLessThan(20_000);
		const block = toolResults(requests(fx)[1])[0];
		expect(block).toContain("slow-lint: diagnostics unavailable (timed out after 1s)");
		expect(block).not.toContain("clean");
	});

	it("a failing on-turn-end gate reaches the agent as a steering message before its next step", async () => {
		const fx = tsFixture({
			config: {
				gates: {
					onWrite: [],
					onTurnEnd: [{ name: "lint", command: "echo 'lint: no-var at src/e.ts:1'; exit 1" }],
					onDone: [],
				},
			},
		});
		setScript(fx, {
			steps: [{ write: { path: "src/e.ts", content: "var e = 1;\n" } }, { bash: "sleep 1" }, { text: "done" }],
			fallback: { text: "done" },
		});
		const result = await runPrint(fx, "make e");
		expect(result.code, result.stderr).toBe(0);
		const steered = requests(fx)
			.slice(1)
			.find((r) => r.messages.some((m) => m.text.includes("[gates] After your last changes these checks fail")));
		expect(steered, JSON.stringify(requests(fx).map((r) => r.messages.at(-1)))).toBeDefined();
		expect(JSON.stringify(steered?.messages)).toContain("lint: no-var at src/e.ts:1");
	});

	const parallelWrites =
		"parallel writes in one message are checked together, once, each result getting its own file's findings";
	it(parallelWrites, async () => {
		const counter = "echo run >> ../gate-runs.txt # {files}";
		const fx = tsFixture({
			config: {
				gates: {
					onWrite: [
						{ name: "count", command: counter },
						{ name: "ts", languageServer: "typescript" },
					],
					onDone: [],
				},
			},
		});
		setScript(fx, {
			steps: [
				{
					writes: [
						{ path: "src/ok.ts", content: "export const ok = 1;\n" },
						{ path: "src/bad.ts", content: "export const bad: number = 'x';\n" },
					],
				},
				{ text: "done" },
			],
		});
		const result = await runPrint(fx, "two files");
		expect(result.code, result.stderr).toBe(0);
		expect(readFileSync(join(fx.root, "gate-runs.txt"), "utf8")).toBe("run\n");
		const [ok, bad] = toolResults(requests(fx)[1]);
		expect(ok).toContain("ts: clean");
		expect(bad).toContain("src/bad.ts:1:14 error TS2322");
		expect(ok).not.toContain("src/bad.ts");
	});

	it("a config error names the key and leaves every gate off", async () => {
		const fx = tsFixture({
			config: { gates: { onWrite: [{ name: "fmt", command: "prettier --write {files}", glob: "src/[a" }] } },
		});
		setScript(fx, {
			steps: [{ write: { path: "src/c.ts", content: "export const c: number = 'x';\n" } }, { text: "done" }],
		});
		const result = await runPrint(fx, "make c");
		expect(result.stderr).toContain('key "gates.onWrite.0.glob": "src/[a" has an unclosed "["');
		expect(result.stderr).toContain("gates are off");
		expect(toolResults(requests(fx)[1])[0]).not.toContain("[gates]");
		const listing = await runPrint(fx, "/gates");
		expect(listing.code).toBe(2);
		expect(listing.stderr).toContain("gates are off: the config has an error");
	});

	it("writes to protected paths and outside the project are blocked with a reason", async () => {
		const fx = tsFixture();
		setScript(fx, {
			steps: [
				{ write: { path: ".env", content: "SECRET=1\n" } },
				{ write: { path: "../outside.txt", content: "x\n" } },
				{ write: { path: "node_modules/evil.js", content: "x\n" } },
				{ text: "done" },
			],
		});
		const result = await runPrint(fx, "write secrets");
		expect(result.code, result.stderr).toBe(0);
		const results = toolResults(requests(fx)[3]);
		expect(results[0]).toContain('.env is a protected path (matches ".env*" in gates.protectedPaths)');
		expect(results[1]).toContain("../outside.txt is outside the project");
		expect(results[2]).toContain('node_modules/evil.js is a protected path (matches "node_modules/"');
		expect(existsSync(join(fx.project, ".env"))).toBe(false);
		expect(existsSync(join(fx.root, "outside.txt"))).toBe(false);
		// Nothing was written, so no on-done gates ran.
		expect(result.stderr).not.toContain("gates: ✓");
	});
});

/** A project with its own `node_modules/typescript` linked to `target` (this checkout's 5.9.3 or 7.0.2). */
function ownTypeScriptFixture(target: string, config?: object): Fixture {
	const fx = makeFixture({
		files: {
			"package.json": JSON.stringify({ name: "fixture", private: true }),
			"tsconfig.json": JSON.stringify({
				compilerOptions: { strict: true, target: "ES2022", module: "NodeNext", noEmit: true },
			}),
			".gitignore": "node_modules/\n",
			...(config ? { ".pi/loop.json": JSON.stringify(config) } : {}),
		},
	});
	mkdirSync(join(fx.project, "node_modules"), { recursive: true });
	symlinkSync(target, join(fx.project, "node_modules", "typescript"));
	return fx;
}

describe("diagnostic servers for the project's own toolchain", () => {
	const ownTypeScript =
		"TypeScript 5.9 of its own: TS2322 from its tsserver in the write result, clean after the fixing write";
	it(ownTypeScript, async () => {
		const fx = ownTypeScriptFixture(join(REPO_ROOT, "node_modules", "typescript"));
		setScript(fx, {
			steps: [
				{ write: { path: "src/value.ts", content: 'export const answer: number = "forty-two";\n' } },
				{ write: { path: "src/value.ts", content: "export const answer: number = 42;\n" } },
				{ text: "done" },
			],
		});
		const result = await runPrint(fx, "write value.ts");
		expect(result.code, result.stderr).toBe(0);
		const written = toolResults(requests(fx)[1])[0];
		// pi 0.73 says "wrote 43 bytes to", pi 1.x "wrote to".
		expect(written).toMatch(/^Successfully wrote (43 bytes )?to src\/value\.ts\n+\[gates\]\n/);
		expect(written).toMatch(
			new RegExp(
				[
					String.raw`\[gates\]\ntypescript: 1 error new\n {2}src\/value\.ts:1:14 `,
					String.raw`error TS2322: Type 'string' is not assignable to type 'number'\.$`,
				].join(""),
			),
		);
		expect(toolResults(requests(fx)[2]).at(-1)).toContain("[gates]\ntypescript: clean");
		const listing = await runPrint(fx, "/gates");
		expect(listing.stderr).toContain(
			"typescript: tsserver of the project's typescript 5.9.3; starts on the first write",
		);
	});

	it("TypeScript 7 of its own still gets the native server (its own tsc --lsp)", async () => {
		const fx = ownTypeScriptFixture(join(REPO_ROOT, "node_modules", "typescript-native"));
		setScript(fx, {
			steps: [{ write: { path: "src/v.ts", content: "export const v: string = 1;\n" } }, { text: "done" }],
		});
		const result = await runPrint(fx, "write v.ts");
		expect(result.code, result.stderr).toBe(0);
		expect(toolResults(requests(fx)[1])[0]).toContain(
			"src/v.ts:1:14 error TS2322: Type 'number' is not assignable to type 'string'.",
		);
		const listing = await runPrint(fx, "/gates");
		expect(listing.stderr).toContain(
			"typescript: the project's typescript 7.0.2 (tsc --lsp); starts on the first write",
		);
	});

	const hangingTsserver =
		"a tsserver that hangs is reported unavailable after the gate's timeout, and a new one answers the next write";
	it(hangingTsserver, async () => {
		const fake = makeFixture({
			files: { "typescript/package.json": JSON.stringify({ name: "typescript", version: "5.9.3" }) },
		});
		mkdirSync(join(fake.project, "typescript", "lib"));
		symlinkSync(
			join(REPO_ROOT, "test", "support", "fake-tsserver.mjs"),
			join(fake.project, "typescript", "lib", "tsserver.js"),
		);
		const fx = ownTypeScriptFixture(join(fake.project, "typescript"), {
			gates: { onWrite: [{ name: "typescript", languageServer: "typescript", timeout: 1 }], onDone: [] },
		});
		setScript(fx, {
			steps: [
				{ write: { path: "a.ts", content: "fine\n" } },
				{ write: { path: "a.ts", content: "HANG\n" } },
				{ write: { path: "a.ts", content: "ERR\n" } },
				{ text: "done" },
			],
		});
		const result = await runPrint(fx, "write a.ts");
		expect(result.code, result.stderr).toBe(0);
		const [first, hung, after] = [1, 2, 3].map((i) => toolResults(requests(fx)[i]).at(-1));
		expect(first).toContain("typescript: clean");
		expect(hung).toContain("[gates]\ntypescript: diagnostics unavailable (timed out after 1s)");
		expect(hung).not.toContain("clean");
		expect(after).toContain("a.ts:1:14 error TS2322");
	});

	it("a Python project gets pyright's error for the written file", async () => {
		// No on-done gates: the detected mypy/pytest/ruff would run (slowly) and are not what is tested here.
		const config = { gates: { onDone: [] } };
		const fx = makeFixture({
			files: {
				"pyproject.toml": '[project]\nname = "fixture"\nversion = "0.1.0"\n',
				".gitignore": ".venv/\n",
				".pi/loop.json": JSON.stringify(config),
			},
		});
		setScript(fx, {
			steps: [
				{ write: { path: "app/main.py", content: 'x: int = "a"\n' } },
				{ write: { path: "app/main.py", content: "x: int = 1\n" } },
				{ text: "done" },
			],
		});
		const result = await runPrint(fx, "write main.py");
		expect(result.code, result.stderr).toBe(0);
		expect(toolResults(requests(fx)[1])[0]).toMatch(
			new RegExp(
				[
					String.raw`\[gates\]\npython: 1 error new\n {2}app\/main\.py:1:10 error reportAssignmentType: `,
					String.raw`Type "Literal\['a'\]" is not assignable to declared type "int"`,
				].join(""),
			),
		);
		expect(toolResults(requests(fx)[2]).at(-1)).toContain("[gates]\npython: clean");
		const listing = await runPrint(fx, "/gates");
		expect(listing.stderr).toContain(
			"python: language server (python) on **/*.{py,pyi}, timeout 15s (detected: pyproject.toml)",
		);
		expect(listing.stderr).toContain(
			"python: pyright 1.1.414 (pyright-langserver, bundled); starts on the first write",
		);
	});
});

describe("pi's own tool choices", () => {
	it("--no-builtin-tools keeps write/edit off: the package does not bring them back", async () => {
		const fx = tsFixture();
		setScript(fx, { steps: [{ write: { path: "x.txt", content: "x\n" } }, { text: "done" }] });
		const result = await runPrint(fx, "write x", ["--no-builtin-tools"]);
		expect(result.code, result.stderr).toBe(0);
		expect(toolResults(requests(fx)[1])[0]).toContain("Tool write not found");
		expect(existsSync(join(fx.project, "x.txt"))).toBe(false);
	});
});

describe("/gates", () => {
	it("lists detected gates and runs one by name", async () => {
		const fx = tsFixture();
		writeFileSync(join(fx.project, "test.js"), FAILING_TESTS);
		const listing = await runPrint(fx, "/gates");
		expect(listing.stderr).toContain("prettier: `node_modules/.bin/prettier --write {files}`");
		expect(listing.stderr).toContain("typescript: language server (typescript)");
		expect(listing.stderr).toContain('tests: `npm test`, timeout 600s (detected: package.json script "test")');
		expect(listing.stderr).toContain(
			"typescript: bundled typescript 7.0.2 (tsc --lsp; the project has none of its own); starts on the first write",
		);
		const run = await runPrint(fx, "/gates run tests");
		expect(run.stderr).toContain("✗ tests (exit 1)");
		expect(run.stderr).toContain("1 failed: sum");
		const unknown = await runPrint(fx, "/gates run nope");
		expect(unknown.stderr).toContain('gates: no gate named "nope" (known: prettier, typescript, tests)');
	});
});

describe("gates over RPC", () => {
	let client: RpcClient | undefined;
	afterEach(async () => {
		await client?.close();
		client = undefined;
	});

	const diagnosticsAndFixRound =
		"diagnostics reach the client in the tool result; a fix round follows failing tests " +
		"and the footer shows the results";
	it(diagnosticsAndFixRound, async () => {
		const fx = tsFixture({
			tests:
				"const fs = require('node:fs'); " +
				"if (!fs.existsSync('src/fixed.ts')) { console.log('needs src/fixed.ts'); process.exit(1); }\n",
		});
		setScript(fx, {
			steps: [
				{ write: { path: "src/a.ts", content: "export const a: number = 'x';\n" } },
				{ text: "done" },
				{ write: { path: "src/fixed.ts", content: "export const fixed = true;\n" } },
				{ text: "fixed" },
			],
		});
		client = new RpcClient(fx);
		expect((await client.response(client.prompt("make a"))).success).toBe(true);
		const c = client;
		await waitFor(
			() => c.uiRequests("notify").some((n) => n.message === "gates: ✓ tests"),
			30_000,
			"the gates to pass after the fix round",
		);
		const writeEnd = c.records.find((r) => r.type === "tool_execution_end" && r.toolName === "write");
		expect(JSON.stringify(writeEnd?.result)).toContain("src/a.ts:1:14 error TS2322");
		expect(c.uiRequests("notify").map((n) => n.message)).toContain("gates: ✗ tests — fix round 1 of 2");
		expect(userMessages(fx).filter((t) => t.includes("fix round 1 of 2"))).toHaveLength(1);
		expect(userMessages(fx).at(-1)).toContain("needs src/fixed.ts");
		const statuses = c
			.uiRequests("setStatus")
			.filter((r) => r.statusKey === "gates")
			.map((r) => r.statusText);
		expect(statuses).toContain("✓ prettier ✗ typescript ✗ tests");
		// a.ts still has its type error: the footer says so even though the last file checked was clean.
		expect(statuses.at(-1)).toBe("✓ prettier ✗ typescript ✓ tests");
	});
});

describe("gates inside /loop", () => {
	it("on-write gates run in iterations; on-done gates do not (the loop's check decides)", async () => {
		const fx = tsFixture({
			config: { gates: { onDone: [{ name: "marker", command: "echo ran >> ../done-runs.txt" }] } },
		});
		setScript(fx, {
			steps: [
				{ write: { path: "src/d.ts", content: "export const d: number = 'x';\n" } },
				{ write: { path: "DONE", content: "" } },
				{ text: "done" },
			],
		});
		const result = await runPrint(fx, '/loop until "test -f DONE" --max 2');
		expect(result.code, result.stderr).toBe(0);
		expect(toolResults(requests(fx)[1])[0]).toContain("src/d.ts:1:14 error TS2322");
		expect(existsSync(join(fx.root, "done-runs.txt"))).toBe(false);
	});
});

describe.skipIf(!hasTmux)("gates in interactive pi (tmux)", () => {
	afterEach(stopInteractive);

	it("shows the diagnostics under the write and the gate results in the footer", async () => {
		const fx = tsFixture();
		setScript(fx, {
			steps: [{ write: { path: "src/use.ts", content: "export const total:string=3\n" } }, { text: "done" }],
		});
		const name = startInteractive(fx);
		await waitFor(() => screen(name).includes("faux-1"), 20_000, "pi to start");
		for (let attempt = 0; attempt < 3 && requests(fx).length === 0; attempt++) {
			tmux("send-keys", "-t", name, "C-u");
			tmux("send-keys", "-t", name, "make use.ts", "Enter");
			await waitFor(() => requests(fx).length > 0, 8_000, "the prompt").catch(() => undefined);
		}
		await waitFor(() => screen(name).includes("✓ tests"), 30_000, "the on-done gates");
		const shown = screen(name);
		expect(shown).toContain("src/use.ts:1:14 error TS2322: Type 'number' is not assignable to type 'string'.");
		expect(shown).toContain("prettier: formatted on disk");
		expect(shown).toMatch(/✓ prettier ✗ typescript ✓ tests/);
	});
});
