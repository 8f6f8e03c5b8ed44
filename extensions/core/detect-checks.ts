/**
 * Detection of the project's test, lint and type-check commands: for the
 * `/loop tests|lint|types` presets and the gates' on-done checks. Reads
 * project files only; runs nothing.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const CHECK_KINDS = ["tests", "lint", "types"] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

export function isCheckKind(name: string): name is CheckKind {
	return (CHECK_KINDS as readonly string[]).includes(name);
}

export interface DetectedCheck {
	command: string;
	/** Where the command came from, e.g. `package.json script "test"`. */
	source: string;
}

export class DetectionError extends Error {}

const NPM_DEFAULT_TEST = /no test specified/;
const PYTHON_MARKERS = ["pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini", "requirements.txt"];

const SCRIPT_NAMES: Record<CheckKind, string[]> = {
	tests: ["test"],
	lint: ["lint"],
	types: ["typecheck", "type-check", "types", "check-types"],
};

const MAKE_TARGETS: Record<CheckKind, string[]> = {
	tests: ["test", "check"],
	lint: ["lint"],
	types: ["typecheck", "types"],
};

const CARGO: Record<CheckKind, string> = { tests: "cargo test", lint: "cargo clippy", types: "cargo check" };
const GO: Record<CheckKind, string> = { tests: "go test ./...", lint: "go vet ./...", types: "go build ./..." };
const PYTHON: Record<CheckKind, string> = { tests: "pytest", lint: "ruff check", types: "mypy ." };

/** A JSON file's object, or undefined when it is missing or not valid JSON. */
export function readJson(path: string): Record<string, unknown> | undefined {
	try {
		return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
	} catch {
		return undefined;
	}
}

function packageRunner(cwd: string): string {
	if (existsSync(join(cwd, "pnpm-lock.yaml"))) return "pnpm";
	if (existsSync(join(cwd, "yarn.lock"))) return "yarn";
	if (existsSync(join(cwd, "bun.lockb")) || existsSync(join(cwd, "bun.lock"))) return "bun run";
	return "npm run";
}

function fromPackageJson(cwd: string, kind: CheckKind): DetectedCheck | undefined {
	const pkgPath = join(cwd, "package.json");
	if (!existsSync(pkgPath)) return undefined;
	const pkg = readJson(pkgPath);
	if (!pkg) throw new DetectionError(`package.json in ${cwd} is not valid JSON; fix it or use /loop until "<command>"`);
	const scripts = (pkg.scripts ?? {}) as Record<string, unknown>;
	for (const name of SCRIPT_NAMES[kind]) {
		const body = scripts[name];
		if (typeof body !== "string" || body.trim() === "") continue;
		if (name === "test" && NPM_DEFAULT_TEST.test(body)) continue;
		const runner = packageRunner(cwd);
		const command = name === "test" && runner === "npm run" ? "npm test" : `${runner} ${name}`;
		return { command, source: `package.json script "${name}"` };
	}
	if (kind === "types" && existsSync(join(cwd, "tsconfig.json"))) {
		return { command: "npx tsc --noEmit", source: "tsconfig.json" };
	}
	return undefined;
}

function makeTargets(cwd: string): Set<string> {
	const path = join(cwd, "Makefile");
	if (!existsSync(path)) return new Set();
	const targets = new Set<string>();
	for (const line of readFileSync(path, "utf8").split("\n")) {
		const m = /^([A-Za-z0-9_.-]+)\s*:(?!=)/.exec(line);
		if (m) targets.add(m[1] as string);
	}
	return targets;
}

/** Finds the command for a preset, or throws a DetectionError naming everything it looked for. */
export function detectCheck(cwd: string, kind: CheckKind): DetectedCheck {
	const npm = fromPackageJson(cwd, kind);
	if (npm) return npm;
	if (existsSync(join(cwd, "Cargo.toml"))) return { command: CARGO[kind], source: "Cargo.toml" };
	if (existsSync(join(cwd, "go.mod"))) return { command: GO[kind], source: "go.mod" };
	const python = PYTHON_MARKERS.find((f) => existsSync(join(cwd, f)));
	if (python) return { command: PYTHON[kind], source: python };
	const targets = makeTargets(cwd);
	const target = MAKE_TARGETS[kind].find((t) => targets.has(t));
	if (target) return { command: `make ${target}`, source: `Makefile target "${target}"` };
	throw new DetectionError(describeMiss(kind));
}

function describeMiss(kind: CheckKind): string {
	const scripts = SCRIPT_NAMES[kind].map((s) => `"${s}"`).join(", ");
	const tsconfig = kind === "types" ? " (or a tsconfig.json)" : "";
	const targets = MAKE_TARGETS[kind].map((t) => `"${t}"`).join(", ");
	return (
		`no ${kind} command found: looked for a package.json script ${scripts}${tsconfig}, Cargo.toml, go.mod, ` +
		`Python project files (${PYTHON_MARKERS.join(", ")}) and a Makefile target ${targets}. ` +
		`Name the command yourself: /loop until "<command>"`
	);
}
