/**
 * Default gates for a project without a `gates` config: a formatter and
 * TypeScript diagnostics on write, the project's test/lint/typecheck
 * commands on done. Reads project files and PATH only; runs nothing.
 */
import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { GateKind, GateSpec } from "../shared/config.ts";
import { type CheckKind, DetectionError, detectCheck } from "../loop/detect.ts";

export interface DetectedGate extends GateSpec {
	/** Why this gate exists, e.g. `.prettierrc`. */
	source: string;
	/** Set when the gate was detected but cannot run, e.g. the formatter is not installed. */
	unavailable?: string;
}

export const JS_LIKE = "**/*.{js,jsx,mjs,cjs,ts,tsx,mts,cts}";
const PRETTIER_FILES = [".prettierrc", ".prettierrc.json", ".prettierrc.yaml", ".prettierrc.yml", ".prettierrc.json5", ".prettierrc.js", ".prettierrc.cjs", ".prettierrc.mjs", ".prettierrc.toml", "prettier.config.js", "prettier.config.cjs", "prettier.config.mjs"];

interface FormatterRule {
	name: string;
	markers: (cwd: string) => string | undefined;
	/** Project-local binary first, then PATH. */
	binary: string;
	local?: boolean;
	args: string;
	glob: string;
}

const FORMATTERS: FormatterRule[] = [
	{ name: "prettier", markers: prettierMarker, binary: "prettier", local: true, args: "--write {files}", glob: `**/*.{js,jsx,mjs,cjs,ts,tsx,mts,cts,json,css,scss,less,md,yaml,yml,html,vue}` },
	{ name: "biome", markers: (cwd) => ["biome.json", "biome.jsonc"].find((f) => existsSync(join(cwd, f))), binary: "biome", local: true, args: "format --write {files}", glob: `**/*.{js,jsx,mjs,cjs,ts,tsx,mts,cts,json,jsonc,css}` },
	{ name: "gofmt", markers: (cwd) => (existsSync(join(cwd, "go.mod")) ? "go.mod" : undefined), binary: "gofmt", args: "-w {files}", glob: "**/*.go" },
	// rustfmt on the written files only (cargo fmt would reformat the whole crate), with the crate's edition.
	{ name: "rustfmt", markers: (cwd) => (existsSync(join(cwd, "Cargo.toml")) ? "Cargo.toml" : undefined), binary: "rustfmt", args: "--edition {edition} {files}", glob: "**/*.rs" },
	{ name: "ruff", markers: ruffMarker, binary: "ruff", args: "format {files}", glob: "**/*.{py,pyi}" },
];

function prettierMarker(cwd: string): string | undefined {
	const file = PRETTIER_FILES.find((f) => existsSync(join(cwd, f)));
	if (file) return file;
	return readJson(join(cwd, "package.json"))?.prettier !== undefined ? 'package.json "prettier"' : undefined;
}

function ruffMarker(cwd: string): string | undefined {
	for (const f of ["ruff.toml", ".ruff.toml"]) if (existsSync(join(cwd, f))) return f;
	const pyproject = join(cwd, "pyproject.toml");
	return existsSync(pyproject) && readFileSync(pyproject, "utf8").includes("[tool.ruff") ? "pyproject.toml [tool.ruff]" : undefined;
}

/** The crate's `edition` from Cargo.toml (rustfmt alone assumes 2015). */
function rustEdition(cwd: string): string {
	try {
		return /^\s*edition\s*=\s*["'](\d{4})["']/m.exec(readFileSync(join(cwd, "Cargo.toml"), "utf8"))?.[1] ?? "2015";
	} catch {
		return "2015";
	}
}

function readJson(path: string): Record<string, unknown> | undefined {
	try {
		return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
	} catch {
		return undefined;
	}
}

function onPath(binary: string): string | undefined {
	for (const dir of (process.env.PATH ?? "").split(delimiter)) {
		if (dir && existsSync(join(dir, binary))) return join(dir, binary);
	}
	return undefined;
}

function quote(path: string): string {
	return /^[\w./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

function detectFormatter(cwd: string): DetectedGate | undefined {
	for (const rule of FORMATTERS) {
		const source = rule.markers(cwd);
		if (!source) continue;
		const local = join(cwd, "node_modules", ".bin", rule.binary);
		const binary = rule.local && existsSync(local) ? `node_modules/.bin/${rule.binary}` : onPath(rule.binary);
		const args = rule.args.replace("{edition}", rustEdition(cwd));
		const gate: DetectedGate = { name: rule.name, command: `${quote(binary ?? rule.binary)} ${args}`, glob: rule.glob, source };
		if (!binary) gate.unavailable = `${rule.binary} is not installed${rule.local ? " (node_modules/.bin or PATH)" : " (not on PATH)"}`;
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
			if (!error.message.startsWith("no ")) return [{ name: "package.json", command: "-", source: "package.json", unavailable: error.message }];
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
	if (existsSync(join(cwd, "tsconfig.json")) || existsSync(join(cwd, "jsconfig.json"))) {
		const gate: DetectedGate = { name: "typescript", languageServer: "typescript", glob: JS_LIKE, source: existsSync(join(cwd, "tsconfig.json")) ? "tsconfig.json" : "jsconfig.json" };
		const own = readJson(join(cwd, "node_modules", "typescript", "package.json"))?.version;
		if (typeof own === "string" && Number.parseInt(own, 10) < 7) {
			gate.unavailable = `the project has its own typescript ${own}, older than the bundled TypeScript 7 language server, which may judge its tsconfig differently; its types are checked on done. To use the bundled server anyway, name it in gates.onWrite: { "name": "typescript", "languageServer": "typescript" }`;
		}
		gates.push(gate);
	}
	return gates;
}
