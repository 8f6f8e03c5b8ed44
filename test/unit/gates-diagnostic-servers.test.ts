/**
 * The registry of diagnostic servers: which server answers a written file
 * (the project's own tsserver below TypeScript 7, its own or the bundled
 * `tsc --lsp` otherwise, the nearest tsconfig deciding in a monorepo),
 * pyright for Python, gopls / rust-analyzer only from PATH, and what /gates
 * and the plan say when one is missing; the pool sending each file to its
 * subproject's server.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DIAGNOSTIC_SERVERS, type ServerChoice } from "../../extensions/gates/diagnostic-servers.ts";
import { planGates } from "../../extensions/gates/plan.ts";
import { DiagnosticServers } from "../../extensions/gates/server-pool.ts";
import { REPO_ROOT } from "../support/harness.ts";
import { tempTree } from "../support/temp-tree.ts";

const project = (files: Record<string, string | null>) => tempTree("pi-loop-gates-servers-", files);
const ts = (version: string) => ({
	"node_modules/typescript/package.json": JSON.stringify({ version }),
	"node_modules/typescript/lib/tsserver.js": "",
	"node_modules/typescript/bin/tsc": "",
});
const choose = (cwd: string, file?: string) =>
	DIAGNOSTIC_SERVERS.typescript.choose(cwd, file ? join(cwd, file) : undefined) as ServerChoice;

let pathDir: string;
beforeEach(() => {
	pathDir = project({ ".keep": "" });
	vi.stubEnv("PATH", pathDir);
});
afterEach(() => vi.unstubAllEnvs());

describe("TypeScript: the server follows the project's own version", () => {
	it("TypeScript 5 of its own → its tsserver, spoken to directly", () => {
		const dir = project({ "tsconfig.json": "{}", ...ts("5.9.3") });
		const choice = choose(dir, "src/a.ts");
		expect(choice.protocol.kind).toBe("tsserver");
		expect(choice.command.args[0]).toBe(join(dir, "node_modules/typescript/lib/tsserver.js"));
		expect(choice.label).toBe("tsserver of the project's typescript 5.9.3");
	});
	it("TypeScript 7 of its own → its tsc --lsp; none → the bundled one", () => {
		const own = project({ "tsconfig.json": "{}", ...ts("7.0.2") });
		expect(choose(own, "a.ts")).toMatchObject({
			protocol: { kind: "lsp" },
			label: "the project's typescript 7.0.2 (tsc --lsp)",
		});
		expect(choose(own, "a.ts").command.args.slice(0, 2)).toEqual([
			join(own, "node_modules/typescript/bin/tsc"),
			"--lsp",
		]);
		const none = project({ "tsconfig.json": "{}" });
		expect(choose(none, "a.ts").label).toMatch(
			/^bundled typescript 7\.\d+\.\d+ \(tsc --lsp; the project has none of its own\)$/,
		);
	});
	it("monorepo: the file's nearest tsconfig decides, the TypeScript found walking up from it the version", () => {
		const dir = project({
			"tsconfig.json": "{}",
			...ts("7.0.2"),
			"packages/old/tsconfig.json": "{}",
			...Object.fromEntries(Object.entries(ts("5.4.5")).map(([k, v]) => [`packages/old/${k}`, v])),
			"packages/new/tsconfig.json": "{}",
		});
		expect(choose(dir, "packages/old/src/a.ts").label).toBe("tsserver of the project's typescript 5.4.5");
		expect(choose(dir, "packages/new/src/a.ts").label).toBe("the project's typescript 7.0.2 (tsc --lsp)");
		expect(choose(dir).label).toBe("the project's typescript 7.0.2 (tsc --lsp)");
	});
	it("a TypeScript without lib/tsserver.js is unavailable, saying where it looked", () => {
		const dir = project({
			"tsconfig.json": "{}",
			"node_modules/typescript/package.json": JSON.stringify({ version: "4.9.5" }),
		});
		expect(DIAGNOSTIC_SERVERS.typescript.choose(dir, join(dir, "a.ts"))).toEqual({
			unavailable: `the project's typescript 4.9.5 (${join(dir, "node_modules/typescript")}) has no lib/tsserver.js`,
		});
	});
});

describe("Python, Go, Rust", () => {
	it("python → the bundled pyright language server", () => {
		const choice = DIAGNOSTIC_SERVERS.python.choose(project({ "pyproject.toml": "" })) as ServerChoice;
		expect(choice.label).toBe("pyright 1.1.414 (pyright-langserver, bundled)");
		expect(choice.command.args.at(-1)).toBe("--stdio");
		expect(choice.protocol).toMatchObject({ kind: "lsp", diagnostics: "pull" });
	});
	it("gopls and rust-analyzer absent from PATH: unavailable, saying what would enable them; present: used", () => {
		const dir = project({ "go.mod": "module x\n" });
		expect(DIAGNOSTIC_SERVERS.go.choose(dir)).toEqual({
			unavailable: "gopls is not on PATH (go install golang.org/x/tools/gopls@latest enables it)",
		});
		expect(DIAGNOSTIC_SERVERS.rust.choose(dir)).toEqual({
			unavailable: "rust-analyzer is not on PATH (rustup component add rust-analyzer enables it)",
		});
		const bin = project({ gopls: "#!/bin/sh\necho 'golang.org/x/tools/gopls v0.16.2'\n" });
		chmodSync(join(bin, "gopls"), 0o755);
		vi.stubEnv("PATH", bin);
		expect(DIAGNOSTIC_SERVERS.go.choose(dir)).toMatchObject({
			label: `gopls from PATH (${join(bin, "gopls")})`,
			protocol: { kind: "lsp", diagnostics: "push" },
		});
	});
	it("a server on PATH that cannot run (rustup's proxy without the component) is unavailable, saying why", () => {
		const dir = project({ "Cargo.toml": "[package]\n" });
		const stub =
			"#!/bin/sh\necho \"error: Unknown binary 'rust-analyzer' in official toolchain 'stable'.\" >&2\nexit 1\n";
		const bin = project({ "rust-analyzer": stub });
		chmodSync(join(bin, "rust-analyzer"), 0o755);
		vi.stubEnv("PATH", bin);
		expect(DIAGNOSTIC_SERVERS.rust.choose(dir)).toEqual({
			unavailable:
				"rust-analyzer on PATH does not run: `rust-analyzer --version` says " +
				"\"error: Unknown binary 'rust-analyzer' in official toolchain 'stable'.\" " +
				"(rustup component add rust-analyzer enables it)",
		});
	});
	it("the plan marks a gate whose server is missing unavailable, and /gates says what would enable it", () => {
		const dir = project({
			"go.mod": "module x\n",
			".pi/loop.json": JSON.stringify({ gates: { onWrite: [{ name: "go", languageServer: "go" }], onDone: [] } }),
		});
		const [gate] = planGates(dir).gates;
		expect(gate).toMatchObject({
			name: "go",
			glob: "**/*.go",
			unavailable: "gopls is not on PATH (go install golang.org/x/tools/gopls@latest enables it)",
		});
		expect(new DiagnosticServers(dir).describe("go")).toBe(
			"go: unavailable — gopls is not on PATH (go install golang.org/x/tools/gopls@latest enables it)",
		);
	});
	it("an unknown languageServer is a config error naming the key and the known names", () => {
		const dir = project({
			".pi/loop.json": JSON.stringify({ gates: { onWrite: [{ name: "x", languageServer: "cobol" }] } }),
		});
		expect(planGates(dir).configError).toContain(
			'key "gates.onWrite.0.languageServer": unknown language server "cobol" (known: typescript, python, go, rust)',
		);
	});
});

describe("DiagnosticServers (the pool)", () => {
	it("sends each file to the server its subproject gets, one process per server, and lists them all", async () => {
		const fake = join(REPO_ROOT, "test", "support", "fake-tsserver.mjs");
		const typescript = (version: string) => ({
			"node_modules/typescript/package.json": JSON.stringify({ version }),
			"node_modules/typescript/lib/tsserver.js": `import(${JSON.stringify(pathToFileURL(fake).href)});\n`,
		});
		const sub = Object.fromEntries(Object.entries(typescript("5.4.5")).map(([k, v]) => [`packages/old/${k}`, v]));
		const dir = project({ "tsconfig.json": "{}", ...typescript("5.9.3"), "packages/old/tsconfig.json": "{}", ...sub });
		writeFileSync(join(dir, "a.ts"), "ERR");
		writeFileSync(join(dir, "packages/old/b.ts"), "ERR");
		const pool = new DiagnosticServers(dir);
		try {
			const files = [join(dir, "a.ts"), join(dir, "packages/old/b.ts"), join(dir, "README.md")];
			const answer = await pool.diagnostics("typescript", files, 20_000);
			expect(answer.found.map((d) => `${d.file} ${d.code}`)).toEqual(["a.ts TS2322", "packages/old/b.ts TS2322"]);
			expect(answer.unavailable.size).toBe(0);
			const listed = pool.describe("typescript").split("\n");
			expect(listed).toHaveLength(2);
			expect(listed[0]).toMatch(
				/^typescript: tsserver of the project's typescript 5\.9\.3; running, pid \d+ \(started 1×\)$/,
			);
			expect(listed[1]).toMatch(
				/^typescript: tsserver of the project's typescript 5\.4\.5; running, pid \d+ \(started 1×\) \(for a subproject\)$/,
			);
		} finally {
			await pool.stop();
		}
	});
});
