/**
 * The LSP client against the real bundled TypeScript 7 language server (as
 * the registry picks it for a project without TypeScript of its own):
 * diagnostics after changes, a crash and a timed-out request both followed
 * by a working restart, and a clean shutdown; and a scripted server that
 * only pushes diagnostics (test/support/fake-push-lsp.mjs).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { DIAGNOSTIC_SERVERS, type ServerChoice } from "../../extensions/gates/diagnostic-servers.ts";
import { LspClient } from "../../extensions/gates/lsp-client.ts";
import { Unavailable } from "../../extensions/gates/warm-server.ts";

const dir = mkdtempSync(join(tmpdir(), "gates-ts-"));
writeFileSync(
	join(dir, "tsconfig.json"),
	JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "NodeNext", noEmit: true } }),
);
writeFileSync(join(dir, "a.ts"), "export const a: number = 1;\n");
const file = join(dir, "b.ts");
const choice = DIAGNOSTIC_SERVERS.typescript.choose(dir, join(dir, "b.ts")) as ServerChoice;
if (choice.protocol.kind !== "lsp") throw new Error(`expected the LSP server, got ${choice.label}`);
const server = new LspClient(dir, choice.command, { ...choice.protocol, code: (c) => `TS${c}` });

afterAll(async () => {
	await server.stop();
	rmSync(dir, { recursive: true, force: true });
});

describe("LspClient on TypeScript 7", () => {
	it("uses the bundled TypeScript 7 when the project has none", () => {
		expect(choice.label).toMatch(/^bundled typescript 7\.\d+\.\d+ \(tsc --lsp; the project has none of its own\)$/);
	});

	it("reports errors with position and code after a change, and nothing once fixed", async () => {
		writeFileSync(file, 'import { a } from "./a.js";\nexport const b: string = a;\nconst unused = 1;\n');
		const found = await server.diagnostics([file], 20_000);
		expect(found).toEqual([
			{
				file: "b.ts",
				line: 2,
				col: 14,
				severity: "error",
				code: "TS2322",
				message: "Type 'number' is not assignable to type 'string'.",
			},
		]);
		writeFileSync(file, 'import { a } from "./a.js";\nexport const b: number = a;\n');
		expect(await server.diagnostics([file], 20_000)).toEqual([]);
		expect(server.starts).toBe(1);
	});

	it("sees files changed on disk by other means (bash, an editor) before answering", async () => {
		const lib = join(dir, "lib.ts");
		const user = join(dir, "user.ts");
		writeFileSync(lib, "export const foo = 1;\n");
		writeFileSync(user, 'import { foo } from "./lib.js";\nexport const u: number = foo;\n');
		expect(await server.diagnostics([user], 20_000)).toEqual([]);
		// lib.ts (read by the server, never opened) and a new file change behind the server's back.
		writeFileSync(lib, "export const bar = 1;\n");
		writeFileSync(join(dir, "extra.ts"), "export const extra = 2;\n");
		writeFileSync(
			user,
			'import { bar } from "./lib.js";\nimport { extra } from "./extra.js";\nexport const u: number = bar + extra;\n',
		);
		expect(await server.diagnostics([user], 20_000)).toEqual([]);
	});

	it("leaves files that are not JavaScript or TypeScript alone", async () => {
		const readme = join(dir, "README.md");
		writeFileSync(readme, "# Not code: `x` = 1\n");
		expect(await server.diagnostics([readme], 20_000)).toEqual([]);
	});

	it("restarts after the server process dies", async () => {
		const pid = server.pid as number;
		process.kill(pid, "SIGKILL");
		await new Promise((r) => setTimeout(r, 200));
		expect(server.running).toBe(false);
		writeFileSync(file, "export const b: number = 'x';\n");
		const found = await server.diagnostics([file], 20_000);
		expect(found.map((d) => d.code)).toEqual(["TS2322"]);
		expect(server.starts).toBe(2);
		expect(server.pid).not.toBe(pid);
	});

	it("a request that times out is unavailable (not clean), and the next call works on a fresh server", async () => {
		await expect(server.diagnostics([file], 1)).rejects.toThrow(new Unavailable("timed out after 0.001s"));
		const found = await server.diagnostics([file], 20_000);
		expect(found.map((d) => d.code)).toEqual(["TS2322"]);
		expect(server.starts).toBe(3);
	});
});

describe("LspClient on a server that only pushes diagnostics (gopls, rust-analyzer)", () => {
	const pushDir = mkdtempSync(join(tmpdir(), "gates-push-"));
	const script = join(dirname(fileURLToPath(import.meta.url)), "..", "support", "fake-push-lsp.mjs");
	const push = new LspClient(
		pushDir,
		{ program: process.execPath, args: [script] },
		{ languageIds: { ".go": "go" }, watched: { extensions: [".go"], names: /^go\.mod$/ }, diagnostics: "push" },
	);
	afterAll(() => push.stop());
	const main = join(pushDir, "main.go");

	it("waits for the publication of the version it sent, not an older one", async () => {
		writeFileSync(main, "ok\n");
		expect(await push.diagnostics([main], 20_000)).toEqual([]); // the stale "ERR" of version 0 came first
		writeFileSync(main, "x   ERR\n");
		expect(await push.diagnostics([main], 20_000)).toEqual([
			{ file: "main.go", line: 1, col: 5, severity: "error", code: "E1", message: "pushed error" },
		]);
	});
	it("takes the last of several publications of one version (syntax first, semantics later)", async () => {
		writeFileSync(main, "x   ERR SPLIT\n");
		expect((await push.diagnostics([main], 20_000)).map((d) => d.code)).toEqual(["E1"]);
	});
	it("answers from the last publication when the text did not change", async () => {
		const started = Date.now();
		expect((await push.diagnostics([main], 20_000)).map((d) => d.code)).toEqual(["E1"]);
		// no new publication is waited for (the server sends one 50 ms after a change)
		expect(Date.now() - started).toBeLessThan(40);
	});
});

const hasPython = spawnSync("python3", ["--version"]).status === 0;

describe("LspClient on pyright (as the registry picks it for Python)", { timeout: 60_000 }, () => {
	const started: LspClient[] = [];
	afterAll(() => Promise.all(started.map((c) => c.stop())));
	const pyright = (files: Record<string, string>) => {
		const root = mkdtempSync(join(tmpdir(), "gates-pyright-"));
		for (const [path, text] of Object.entries(files)) writeFileSync(join(root, path), text);
		const picked = DIAGNOSTIC_SERVERS.python.choose(root) as ServerChoice;
		if (picked.protocol.kind !== "lsp") throw new Error(`expected an LSP server, got ${picked.label}`);
		const client = new LspClient(root, picked.command, picked.protocol);
		started.push(client);
		return { root, client };
	};

	it("reports an error by rule name, pulled right after the change", async () => {
		const { root, client } = pyright({ "pyproject.toml": '[project]\nname = "x"\n', "main.py": 'x: int = "a"\n' });
		const [found] = await client.diagnostics([join(root, "main.py")], 30_000);
		expect(found).toMatchObject({ file: "main.py", line: 1, col: 10, severity: "error", code: "reportAssignmentType" });
		writeFileSync(join(root, "main.py"), "x: int = 1\n");
		expect(await client.diagnostics([join(root, "main.py")], 30_000)).toEqual([]);
	});
	it("honours the project's pyright config: [tool.pyright] turning a rule into a warning", async () => {
		const toml = '[project]\nname = "x"\n\n[tool.pyright]\nreportAssignmentType = "warning"\n';
		const { root, client } = pyright({ "pyproject.toml": toml, "main.py": 'x: int = "a"\n' });
		const found = await client.diagnostics([join(root, "main.py")], 30_000);
		expect(found.map((d) => `${d.severity} ${d.code}`)).toEqual(["warning reportAssignmentType"]);
	});
	it.skipIf(!hasPython)("resolves imports with the project's .venv when no environment is active", async () => {
		vi.stubEnv("VIRTUAL_ENV", "");
		const root = mkdtempSync(join(tmpdir(), "gates-pyright-venv-"));
		execFileSync("python3", ["-m", "venv", "--without-pip", join(root, ".venv")]);
		const site = execFileSync(join(root, ".venv", "bin", "python"), [
			"-c",
			"import site; print(site.getsitepackages()[0])",
		]);
		mkdirSync(join(site.toString().trim(), "venv_only_pkg"));
		writeFileSync(join(site.toString().trim(), "venv_only_pkg", "__init__.py"), "VALUE: int = 1\n");
		writeFileSync(join(root, "requirements.txt"), "venv-only-pkg\n");
		writeFileSync(join(root, "main.py"), "import venv_only_pkg\nx: str = venv_only_pkg.VALUE\n");
		const picked = DIAGNOSTIC_SERVERS.python.choose(root) as ServerChoice;
		vi.unstubAllEnvs();
		expect(picked.label).toMatch(/, \.venv\/bin\/python$/);
		if (picked.protocol.kind !== "lsp") throw new Error(picked.label);
		const client = new LspClient(root, picked.command, picked.protocol);
		started.push(client);
		// The import resolves (no reportMissingImports) and its type is known: int is not str.
		const found = await client.diagnostics([join(root, "main.py")], 30_000);
		expect(found.map((d) => `${d.line} ${d.code}`)).toEqual(["2 reportAssignmentType"]);
	});
	it("and pyrightconfig.json turning it off", async () => {
		const config = JSON.stringify({ reportAssignmentType: "none" });
		const { root, client } = pyright({ "pyrightconfig.json": config, "setup.py": "", "main.py": 'x: int = "a"\n' });
		expect(await client.diagnostics([join(root, "main.py")], 30_000)).toEqual([]);
	});
});

describe("a server that cannot start", () => {
	it("is unavailable with its exit code and the last line it wrote to stderr", async () => {
		const dir = mkdtempSync(join(tmpdir(), "gates-broken-"));
		writeFileSync(join(dir, "main.rs"), "fn main() {}\n");
		const script =
			"console.error(\"error: Unknown binary 'rust-analyzer' in official toolchain 'stable'\"); process.exit(1)";
		const options = {
			languageIds: { ".rs": "rust" },
			watched: { extensions: [".rs"], names: /^Cargo\.toml$/ },
			diagnostics: "push" as const,
		};
		const broken = new LspClient(dir, { program: process.execPath, args: ["-e", script] }, options);
		await expect(broken.diagnostics([join(dir, "main.rs")], 5_000)).rejects.toThrow(
			new Unavailable(
				"language server exited (code 1): error: Unknown binary 'rust-analyzer' in official toolchain 'stable'",
			),
		);
		expect(broken.running).toBe(false);
	});
});
