/**
 * The registry of diagnostic servers a gate can use: per name, how a project
 * is recognised, which files go to it, and which server answers a given file
 * (program, protocol — LSP or tsserver — and a label for /gates), or why
 * none can. Reads files and PATH; a server found on PATH is asked for its
 * version once per pi process, so a stub that cannot run (rustup's proxy for
 * a component that is not installed) counts as absent.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join, resolve } from "node:path";
import { readJson } from "../core/detect-checks.ts";
import type { LanguageServerName } from "../shared/config.ts";
import { posixRelative } from "../shared/posix-path.ts";
import { processWide } from "../shared/process-wide.ts";
import { TS_WATCHED, type WatchedFiles } from "./disk-changes.ts";
import type { ServerCommand } from "./warm-server.ts";

/** How a server is reached: the LSP client's settings, or tsserver's own protocol. */
export type Protocol =
	| {
			kind: "lsp";
			languageIds: Record<string, string>;
			watched: WatchedFiles;
			diagnostics: "pull" | "push";
			codePrefix?: string;
			/** Answers to `workspace/configuration` by section (e.g. pyright's "python": the interpreter). */
			settings?: Record<string, unknown>;
	  }
	| { kind: "tsserver" };

/** The server that answers for a file: one process per `key` and project. */
export interface ServerChoice {
	key: string;
	command: ServerCommand;
	protocol: Protocol;
	/** e.g. "tsserver of the project's typescript 5.9.3". */
	label: string;
}

export interface ServerEntry {
	name: LanguageServerName;
	/** Files it checks (a gate's default glob), and the only extensions it is sent whatever a gate's glob says. */
	glob: string;
	extensions: readonly string[];
	/** What makes a project get this server by detection, or undefined. */
	marker: (cwd: string) => string | undefined;
	/** The server for `file` (absolute; the project root when none is given), or why there is none. */
	choose: (cwd: string, file?: string) => ServerChoice | { unavailable: string };
}

const JS_LIKE = "**/*.{js,jsx,mjs,cjs,ts,tsx,mts,cts}";
const TS_LANGUAGE_IDS: Record<string, string> = {
	".ts": "typescript",
	".mts": "typescript",
	".cts": "typescript",
	".tsx": "typescriptreact",
	".js": "javascript",
	".mjs": "javascript",
	".cjs": "javascript",
	".jsx": "javascriptreact",
};

export function onPath(binary: string): string | undefined {
	for (const dir of (process.env.PATH ?? "").split(delimiter)) {
		if (dir && existsSync(join(dir, binary))) return join(dir, binary);
	}
	return undefined;
}

function versionOf(packageJson: string): string | undefined {
	const version = readJson(packageJson)?.version;
	return typeof version === "string" ? version : undefined;
}

/** The nearest directory from `start` up to `stop` (inclusive) holding one of `names`; `stop` when none does. */
function nearestWith(start: string, stop: string, names: string[]): string {
	for (let dir = start; ; dir = dirname(dir)) {
		if (names.some((n) => existsSync(join(dir, n)))) return dir;
		if (dir === stop || dirname(dir) === dir || !dir.startsWith(stop)) return stop;
	}
}

/** The `node_modules/typescript` found walking up from `dir` (as node resolves it), with its version. */
function ownTypeScript(dir: string): { dir: string; version: string } | undefined {
	for (let at = dir; ; at = dirname(at)) {
		const pkg = join(at, "node_modules", "typescript", "package.json");
		const version = existsSync(pkg) ? versionOf(pkg) : undefined;
		if (version) return { dir: dirname(pkg), version };
		if (dirname(at) === at) return undefined;
	}
}

function bundledTypeScript(): { dir: string; version: string | undefined } {
	const pkg = createRequire(import.meta.url).resolve("typescript-native/package.json");
	return { dir: dirname(pkg), version: versionOf(pkg) };
}

/** Automatic type acquisition (it would download @types packages) and diagnostic events off. */
const TSSERVER_FLAGS = ["--disableAutomaticTypingAcquisition", "--suppressDiagnosticEvents", "--locale", "en"];
const TS_LSP: Protocol = {
	kind: "lsp",
	languageIds: TS_LANGUAGE_IDS,
	watched: TS_WATCHED,
	diagnostics: "pull",
	codePrefix: "TS",
};

/**
 * The nearest tsconfig/jsconfig of the file decides the project, the
 * TypeScript found walking up from there the server: its own tsserver below
 * 7, its own `tsc --lsp` from 7, this package's TypeScript 7 when it has none.
 */
function chooseTypeScript(cwd: string, file?: string): ServerChoice | { unavailable: string } {
	const project = nearestWith(file ? dirname(resolve(file)) : cwd, cwd, ["tsconfig.json", "jsconfig.json"]);
	const own = ownTypeScript(project);
	if (own && Number.parseInt(own.version, 10) >= 7) {
		return {
			key: `lsp:${own.dir}`,
			command: { program: process.execPath, args: [join(own.dir, "bin", "tsc"), "--lsp", "--stdio"] },
			protocol: TS_LSP,
			label: `the project's typescript ${own.version} (tsc --lsp)`,
		};
	}
	if (own) {
		const tsserver = join(own.dir, "lib", "tsserver.js");
		if (!existsSync(tsserver))
			return { unavailable: `the project's typescript ${own.version} (${own.dir}) has no lib/tsserver.js` };
		return {
			key: `tsserver:${own.dir}`,
			command: { program: process.execPath, args: [tsserver, ...TSSERVER_FLAGS] },
			protocol: { kind: "tsserver" },
			label: `tsserver of the project's typescript ${own.version}`,
		};
	}
	const bundled = bundledTypeScript();
	return {
		key: `lsp:${bundled.dir}`,
		command: { program: process.execPath, args: [join(bundled.dir, "bin", "tsc"), "--lsp", "--stdio"] },
		protocol: TS_LSP,
		label: `bundled typescript ${bundled.version} (tsc --lsp; the project has none of its own)`,
	};
}

const PYTHON_WATCHED: WatchedFiles = { extensions: [".py", ".pyi"], names: /^(pyrightconfig\.json|pyproject\.toml)$/ };
const PYRIGHT_VERSION = "1.1.414";

/**
 * The project's virtual environment when none is active: pyright would
 * otherwise resolve imports with the `python` on PATH and report the
 * project's installed packages as missing. An active one (VIRTUAL_ENV) is
 * the `python` on PATH already.
 */
function projectPython(cwd: string): string | undefined {
	if (process.env.VIRTUAL_ENV) return undefined;
	return [".venv", "venv"].map((d) => join(cwd, d, "bin", "python")).find((p) => existsSync(p));
}

function choosePyright(cwd: string): ServerChoice | { unavailable: string } {
	let pkg: string;
	try {
		pkg = createRequire(import.meta.url).resolve("pyright/package.json");
	} catch {
		return {
			unavailable:
				`pyright is not installed: pi-loop-factory depends on pyright ${PYRIGHT_VERSION}; ` +
				"reinstall the package (pi install) or run npm install in its directory",
		};
	}
	const version = versionOf(pkg) ?? "?";
	const python = projectPython(cwd);
	return {
		key: `lsp:${dirname(pkg)}`,
		command: { program: process.execPath, args: [join(dirname(pkg), "langserver.index.js"), "--stdio"] },
		protocol: {
			kind: "lsp",
			languageIds: { ".py": "python", ".pyi": "python" },
			watched: PYTHON_WATCHED,
			diagnostics: "pull",
			...(python ? { settings: { python: { pythonPath: python } } } : {}),
		},
		label: `pyright ${version} (pyright-langserver, bundled)${python ? `, ${posixRelative(cwd, python)}` : ""}`,
	};
}

function pythonMarker(cwd: string): string | undefined {
	const named = ["pyproject.toml", "setup.py", "setup.cfg"].find((f) => existsSync(join(cwd, f)));
	if (named) return named;
	try {
		return readdirSync(cwd).find((f) => /^requirements.*\.txt$/.test(f));
	} catch {
		return undefined;
	}
}

/** Why a program on PATH cannot run (`probe` exits non-zero or not at all), asked once per process and program. */
function cannotRun(program: string, probe: string[]): string | undefined {
	const seen = processWide("gates-path-probes", () => new Map<string, string | undefined>());
	if (!seen.has(program)) {
		const run = spawnSync(program, probe, { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
		const said = `${run.stderr ?? ""}`.trim().split("\n")[0] ?? "";
		seen.set(program, run.status === 0 ? undefined : said || run.error?.message || `exit ${run.status ?? run.signal}`);
	}
	return seen.get(program);
}

/** A server found on PATH (not shipped with this package): said what would enable it when absent or broken. */
function onPathServer(
	binary: string,
	args: string[],
	protocol: Protocol,
	install: string,
	probe: string[],
): () => ServerChoice | { unavailable: string } {
	return () => {
		const program = onPath(binary);
		if (!program) return { unavailable: `${binary} is not on PATH (${install} enables it)` };
		const broken = cannotRun(program, probe);
		if (broken)
			return {
				unavailable:
					`${binary} on PATH does not run: \`${binary} ${probe.join(" ")}\` says "${broken}" ` +
					`(${install} enables it)`,
			};
		return { key: `lsp:${program}`, command: { program, args }, protocol, label: `${binary} from PATH (${program})` };
	};
}

const marker = (file: string) => (cwd: string) => (existsSync(join(cwd, file)) ? file : undefined);

export const DIAGNOSTIC_SERVERS: Record<LanguageServerName, ServerEntry> = {
	typescript: {
		name: "typescript",
		glob: JS_LIKE,
		extensions: TS_WATCHED.extensions,
		marker: (cwd) => ["tsconfig.json", "jsconfig.json"].find((f) => existsSync(join(cwd, f))),
		choose: chooseTypeScript,
	},
	python: {
		name: "python",
		glob: "**/*.{py,pyi}",
		extensions: PYTHON_WATCHED.extensions,
		marker: pythonMarker,
		choose: choosePyright,
	},
	go: {
		name: "go",
		glob: "**/*.go",
		extensions: [".go"],
		marker: marker("go.mod"),
		choose: onPathServer(
			"gopls",
			[],
			{
				kind: "lsp",
				languageIds: { ".go": "go" },
				watched: { extensions: [".go"], names: /^go\.(mod|sum|work)$/ },
				diagnostics: "push",
			},
			"go install golang.org/x/tools/gopls@latest",
			["version"],
		),
	},
	rust: {
		name: "rust",
		glob: "**/*.rs",
		extensions: [".rs"],
		marker: marker("Cargo.toml"),
		choose: onPathServer(
			"rust-analyzer",
			[],
			{
				kind: "lsp",
				languageIds: { ".rs": "rust" },
				watched: { extensions: [".rs"], names: /^Cargo\.(toml|lock)$/ },
				diagnostics: "push",
			},
			"rustup component add rust-analyzer",
			["--version"],
		),
	},
};

/** Registry order: the order detected gates are listed in. */
export const SERVER_NAMES = Object.keys(DIAGNOSTIC_SERVERS) as LanguageServerName[];
