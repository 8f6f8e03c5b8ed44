/**
 * Default gates for a project without a `gates` config: a formatter and
 * diagnostics (TypeScript, Python, Go, Rust: diagnostic-servers.ts) on write, the project's test/lint/typecheck
 * commands on done. Reads project files and PATH only; runs nothing.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type CheckKind, DetectionError, detectCheck, readJson } from "../core/detect-checks.ts";
import type { GateKind, GateSpec } from "../shared/config.ts";
import { shellQuote } from "../shared/shell-quote.ts";
import { DIAGNOSTIC_SERVERS, onPath, SERVER_NAMES } from "./diagnostic-servers.ts";

export interface DetectedGate extends GateSpec {
	/** Why this gate exists, e.g. `.prettierrc`. */
	source: string;
	/** Set when the gate was detected but cannot run, e.g. the formatter is not installed. */
	unavailable?: string;
}

const PRETTIER_FILES = [
	".prettierrc",
	".prettierrc.json",
	".prettierrc.yaml",
	".prettierrc.yml",
	".prettierrc.json5",
	".prettierrc.js",
	".prettierrc.cjs",
	".prettierrc.mjs",
	".prettierrc.toml",
	"prettier.config.js",
	"prettier.config.cjs",
	"prettier.config.mjs",
];

interface FormatterRule {
	name: string;
	markers: (cwd: string) => string | undefined;
	/** Project-local binary first, then PATH. */
	binary: string;
	local?: boolean;
	/** The gate's command for the found program (shell-quoted). */
	command: (program: string, cwd: string) => string;
	glob: string;
}

const FORMATTERS: FormatterRule[] = [
	{
		name: "prettier",
		markers: prettierMarker,
		binary: "prettier",
		local: true,
		command: (p) => `${p} --write {files}`,
		glob: `**/*.{js,jsx,mjs,cjs,ts,tsx,mts,cts,json,css,scss,less,md,yaml,yml,html,vue}`,
	},
	{
		name: "biome",
		markers: (cwd) => ["biome.json", "biome.jsonc"].find((f) => existsSync(join(cwd, f))),
		binary: "biome",
		local: true,
		command: (p) => `${p} format --write {files}`,
		glob: `**/*.{js,jsx,mjs,cjs,ts,tsx,mts,cts,json,jsonc,css}`,
	},
	{
		name: "gofmt",
		markers: (cwd) => (existsSync(join(cwd, "go.mod")) ? "go.mod" : undefined),
		binary: "gofmt",
		command: (p) => `${p} -w {files}`,
		glob: "**/*.go",
	},
	{
		name: "rustfmt",
		markers: (cwd) => (existsSync(join(cwd, "Cargo.toml")) ? "Cargo.toml" : undefined),
		binary: "rustfmt",
		command: rustfmtCommand,
		glob: "**/*.rs",
	},
	{ name: "ruff", markers: ruffMarker, binary: "ruff", command: (p) => `${p} format {files}`, glob: "**/*.{py,pyi}" },
];

function prettierMarker(cwd: string): string | undefined {
	const file = PRETTIER_FILES.find((f) => existsSync(join(cwd, f)));
	if (file) return file;
	return readJson(join(cwd, "package.json"))?.prettier !== undefined ? 'package.json "prettier"' : undefined;
}

function ruffMarker(cwd: string): string | undefined {
	for (const f of ["ruff.toml", ".ruff.toml"]) if (existsSync(join(cwd, f))) return f;
	const pyproject = join(cwd, "pyproject.toml");
	return existsSync(pyproject) && readFileSync(pyproject, "utf8").includes("[tool.ruff")
		? "pyproject.toml [tool.ruff]"
		: undefined;
}

/**
 * Each written file formatted alone through stdin and written back only when
 * rustfmt succeeded: run on a path, rustfmt would also reformat the modules
 * the file declares (and fail on one not written yet); `cargo fmt` would
 * reformat the whole crate.
 */
function rustfmtCommand(program: string, cwd: string): string {
	return (
		`rc=0; for f in {files}; do out=$(${program} --edition ${rustEdition(cwd)} < "$f") && ` +
		`printf '%s\\n' "$out" > "$f" || rc=1; done; exit $rc`
	);
}

/**
 * The edition rustfmt should assume (alone it assumes 2015): the root
 * package's, else the workspace's `[workspace.package]` one; a package that
 * names none is 2015 (Cargo's rule), a workspace that names none 2021.
 */
export function rustEdition(cwd: string): string {
	let toml: string;
	try {
		toml = readFileSync(join(cwd, "Cargo.toml"), "utf8");
	} catch {
		return "2021";
	}
	const section = (name: string) =>
		new RegExp(`^\\[${name.replace(".", "\\.")}\\]\\s*$([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, "m").exec(toml)?.[1];
	const edition = (body: string | undefined) =>
		body ? /^\s*edition\s*=\s*["'](\d{4})["']/m.exec(body)?.[1] : undefined;
	const pkg = section("package");
	return edition(pkg) ?? edition(section("workspace.package")) ?? (pkg !== undefined ? "2015" : "2021");
}

function detectFormatter(cwd: string): DetectedGate | undefined {
	for (const rule of FORMATTERS) {
		const source = rule.markers(cwd);
		if (!source) continue;
		const local = join(cwd, "node_modules", ".bin", rule.binary);
		const binary = rule.local && existsSync(local) ? `node_modules/.bin/${rule.binary}` : onPath(rule.binary);
		const gate: DetectedGate = {
			name: rule.name,
			command: rule.command(shellQuote(binary ?? rule.binary), cwd),
			glob: rule.glob,
			source,
		};
		if (!binary) {
			const where = rule.local ? " (node_modules/.bin or PATH)" : " (not on PATH)";
			gate.unavailable = `${rule.binary} is not installed${where}`;
		}
		return gate;
	}
	return undefined;
}

const DONE_NAMES: Record<CheckKind, string> = { tests: "tests", lint: "lint", types: "types" };

function detectDone(cwd: string): DetectedGate[] {
	const gates: DetectedGate[] = [];
	for (const kind of ["types", "lint", "tests"] as CheckKind[]) {
		try {
			const found = detectCheck(cwd, kind);
			if (found.source === "tsconfig.json") {
				// `npx tsc` would try the network in a project without TypeScript; diagnostics on write cover it then.
				if (!existsSync(join(cwd, "node_modules", ".bin", "tsc"))) continue;
				found.command = "node_modules/.bin/tsc --noEmit";
			}
			gates.push({ name: DONE_NAMES[kind], command: found.command, source: found.source });
		} catch (error) {
			if (!(error instanceof DetectionError)) throw error;
			// An unreadable package.json: one gate says so instead of three.
			if (!error.message.startsWith("no "))
				return [{ name: "package.json", command: "-", source: "package.json", unavailable: error.message }];
		}
	}
	return gates;
}

/** The gates a project gets for one kind when its config does not name them. */
export function detectGates(cwd: string, kind: GateKind): DetectedGate[] {
	if (kind === "onTurnEnd") return [];
	if (kind === "onDone") return detectDone(cwd);
	const gates: DetectedGate[] = [];
	const formatter = detectFormatter(cwd);
	if (formatter) gates.push(formatter);
	for (const name of SERVER_NAMES) {
		const entry = DIAGNOSTIC_SERVERS[name];
		const source = entry.marker(cwd);
		if (source) gates.push({ name, languageServer: name, glob: entry.glob, source });
	}
	return gates;
}
