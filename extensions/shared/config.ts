/**
 * The package's configuration: `.pi/loop.json` in the project merged over
 * `loop.json` in pi's agent dir (~/.pi/agent). Validated with typebox;
 * any unknown key or wrong value is an error naming the key, and nothing
 * falls back to half a configuration.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, posix } from "node:path";
import { type Static, Type } from "typebox";
import { Value } from "typebox/value";
import { MODEL_SPEC_PATTERN, THINKING_LEVELS } from "./model-spec.ts";

const Strict = { additionalProperties: false } as const;
const Path = Type.String({ minLength: 1 });
const Command = Type.String({ minLength: 1 });
const ModelSpec = Type.String({ pattern: MODEL_SPEC_PATTERN });
const Gate = Type.Object(
	{
		name: Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$" }),
		command: Type.Optional(Command),
		languageServer: Type.Optional(Type.String()),
		glob: Type.Optional(Type.String({ minLength: 1 })),
		/** Seconds. */
		timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600 })),
	},
	Strict,
);

export const ConfigSchema = Type.Object(
	{
		paths: Type.Optional(
			Type.Object(
				{
					specs: Type.Optional(Path),
					plan: Type.Optional(Path),
					agents: Type.Optional(Path),
					state: Type.Optional(Path),
					prd: Type.Optional(Path),
					progress: Type.Optional(Path),
				},
				Strict,
			),
		),
		hydration: Type.Optional(
			Type.Object(
				{
					budget: Type.Optional(Type.Integer({ minimum: 500, maximum: 200_000 })),
					progressLines: Type.Optional(Type.Integer({ minimum: 0, maximum: 200 })),
				},
				Strict,
			),
		),
		checks: Type.Optional(
			Type.Object(
				{ tests: Type.Optional(Command), lint: Type.Optional(Command), types: Type.Optional(Command) },
				Strict,
			),
		),
		build: Type.Optional(
			Type.Object(
				{
					attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
					commit: Type.Optional(Type.Boolean()),
				},
				Strict,
			),
		),
		roles: Type.Optional(
			Type.Record(
				Type.String({ pattern: "^[a-z][a-z0-9-]*$" }),
				Type.Union([ModelSpec, Type.Array(ModelSpec, { minItems: 1 })]),
				Strict,
			),
		),
		review: Type.Optional(Type.Object({ rounds: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })) }, Strict)),
		gates: Type.Optional(
			Type.Object(
				{
					enabled: Type.Optional(Type.Boolean()),
					rounds: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
					protectedPaths: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
					onWrite: Type.Optional(Type.Array(Gate)),
					onTurnEnd: Type.Optional(Type.Array(Gate)),
					onDone: Type.Optional(Type.Array(Gate)),
				},
				Strict,
			),
		),
	},
	Strict,
);

export type LoopConfigFile = Static<typeof ConfigSchema>;

export interface LoopConfig {
	paths: { specs: string; plan: string; agents: string; state: string; prd: string; progress: string };
	hydration: { budget: number; progressLines: number };
	checks: { tests?: string; lint?: string; types?: string };
	build: { attempts: number; commit: boolean };
	/** Role name → model spec or fallback list (see extensions/roles/roles.ts). */
	roles: Record<string, string | string[]>;
	review: { rounds: number };
	gates: GatesConfig;
}

export type GateKind = "onWrite" | "onTurnEnd" | "onDone";
export const GATE_KINDS: GateKind[] = ["onWrite", "onTurnEnd", "onDone"];

/** The diagnostic servers a gate can name (their entries are in extensions/gates/diagnostic-servers.ts). */
export const LANGUAGE_SERVERS = ["typescript", "python", "go", "rust"] as const;
export type LanguageServerName = (typeof LANGUAGE_SERVERS)[number];

export interface GateSpec {
	name: string;
	command?: string;
	languageServer?: LanguageServerName;
	glob?: string;
	timeout?: number;
}

export interface GatesConfig {
	enabled: boolean;
	rounds: number;
	protectedPaths: string[];
	/** A kind left out means "detect"; an empty list turns that kind off. */
	onWrite?: GateSpec[];
	onTurnEnd?: GateSpec[];
	onDone?: GateSpec[];
}

export const DEFAULT_CONFIG: LoopConfig = {
	paths: {
		specs: "specs",
		plan: "IMPLEMENTATION_PLAN.md",
		agents: "AGENTS.md",
		state: ".planning/STATE.md",
		prd: "PRD.md",
		progress: ".pi/loop/progress.md",
	},
	hydration: { budget: 12_000, progressLines: 10 },
	checks: {},
	build: { attempts: 2, commit: true },
	roles: {},
	review: { rounds: 1 },
	gates: { enabled: true, rounds: 2, protectedPaths: [".git", "node_modules/", ".env*"] },
};

export class ConfigError extends Error {}

function keyName(instancePath: string): string {
	return instancePath.replace(/^\//, "").replace(/\//g, ".") || "(top level)";
}

/** Validation problems of one config object, each naming its key. */
export function configProblems(value: unknown): string[] {
	if (Value.Check(ConfigSchema, value)) return [];
	const problems = new Set<string>();
	const errors = [...Value.Errors(ConfigSchema, value)];
	// A role value failing every alternative is reported once, in words, not per alternative.
	const roleValues = new Set(errors.filter((e) => e.keyword === "anyOf").map((e) => e.instancePath));
	for (const error of errors) {
		if (error.keyword === "boolean") continue; // reported again as additionalProperties
		const roleValue = [...roleValues].find((p) => error.instancePath === p || error.instancePath.startsWith(`${p}/`));
		if (roleValue) {
			problems.add(
				`key "${keyName(roleValue)}": must be a model spec "provider/model-id[:thinking]" ` +
					`(thinking: ${THINKING_LEVELS.join(", ")}) or a non-empty list of them`,
			);
			continue;
		}
		if (error.keyword === "additionalProperties") {
			const extra = (error.params as { additionalProperties?: string[] }).additionalProperties ?? [];
			for (const key of extra) {
				if (error.instancePath === "/roles")
					problems.add(`role name "${key}" is invalid: use lowercase letters, digits and dashes`);
				else problems.add(`unknown key "${error.instancePath ? `${keyName(error.instancePath)}.${key}` : key}"`);
			}
			continue;
		}
		problems.add(`key "${keyName(error.instancePath)}": ${error.message}`);
	}
	return [...problems];
}

function readConfigFile(path: string): LoopConfigFile {
	let parsed: unknown;
	try {
		parsed = JSON.parse(readFileSync(path, "utf8"));
	} catch (error) {
		throw new ConfigError(`${path}: not valid JSON (${(error as Error).message})`);
	}
	const problems = configProblems(parsed);
	if (problems.length > 0) throw new ConfigError(`${path}: ${problems.join("; ")}`);
	return parsed as LoopConfigFile;
}

export function agentDir(): string {
	return process.env.PI_CODING_AGENT_DIR ?? join(homedir(), ".pi", "agent");
}

export function configPaths(cwd: string): { global: string; project: string } {
	return { global: join(agentDir(), "loop.json"), project: join(cwd, ".pi", "loop.json") };
}

/** `./specs/` → `specs`; a path leaving the project (absolute or with ..) is an error naming the key. */
function projectRelative(key: string, value: string, file: string): string {
	const clean = posix
		.normalize(value.replace(/\\/g, "/"))
		.replace(/^(\.\/)+/, "")
		.replace(/\/+$/, "");
	if (posix.isAbsolute(clean) || clean === ".." || clean.startsWith("../") || clean === "." || clean === "") {
		throw new ConfigError(`${file}: key "paths.${key}": must be a path inside the project, got "${value}"`);
	}
	return clean;
}

/**
 * Globs and gate shapes typebox cannot express, each problem naming its key.
 * A leading `./` is dropped from gate globs (they are project-relative
 * already) and becomes `/` in protectedPaths (gitignore: at the root only).
 */
function checkGates(gates: LoopConfigFile["gates"], file: string): void {
	if (!gates) return;
	const problems: string[] = [];
	if (gates.protectedPaths) {
		gates.protectedPaths = gates.protectedPaths.map((pattern, i) => {
			const clean = pattern.replace(/^(\.\/)+/, "/");
			const problem = /[{}]/.test(clean)
				? `"${pattern}" has braces, which gitignore patterns do not expand: one entry per pattern`
				: globProblem(clean.replace(/^\//, ""));
			if (problem) problems.push(`key "gates.protectedPaths.${i}": ${problem}`);
			return clean;
		});
	}
	for (const kind of GATE_KINDS) {
		const names = new Set<string>();
		gates[kind]?.forEach((gate, i) => {
			const key = `gates.${kind}.${i}`;
			if ((gate.command === undefined) === (gate.languageServer === undefined))
				problems.push(`key "${key}": give exactly one of "command" or "languageServer"`);
			if (gate.languageServer !== undefined && !(LANGUAGE_SERVERS as readonly string[]).includes(gate.languageServer)) {
				problems.push(
					`key "${key}.languageServer": unknown language server "${gate.languageServer}" ` +
						`(known: ${LANGUAGE_SERVERS.join(", ")})`,
				);
			}
			if (gate.languageServer && kind !== "onWrite")
				problems.push(`key "${key}.languageServer": language servers run on write only (use "onWrite")`);
			if (names.has(gate.name)) problems.push(`key "${key}.name": "${gate.name}" is used twice in ${kind}`);
			names.add(gate.name);
			if (gate.glob === undefined) return;
			gate.glob = gate.glob.replace(/^(\.\/)+/, "");
			const problem = globProblem(gate.glob);
			if (problem) problems.push(`key "${key}.glob": ${problem}`);
		});
	}
	if (problems.length > 0) throw new ConfigError(`${file}: ${problems.join("; ")}`);
}

/** Why a project-relative glob is unusable, or undefined when it is fine. */
export function globProblem(glob: string): string | undefined {
	if (glob === "") return "a glob cannot be empty";
	if (posix.isAbsolute(glob) || /^[A-Za-z]:[\\/]/.test(glob))
		return `"${glob}" is absolute; globs are relative to the project`;
	if (glob.split("/").includes("..")) return `"${glob}" leaves the project (..)`;
	let braces = 0;
	let inClass = false;
	for (let i = 0; i < glob.length; i++) {
		const c = glob[i];
		if (c === "\\") i++;
		else if (inClass) inClass = c !== "]";
		else if (c === "[") inClass = true;
		else if (c === "{") braces++;
		else if (c === "}" && --braces < 0) return `"${glob}" has a "}" without "{"`;
	}
	if (inClass) return `"${glob}" has an unclosed "["`;
	if (braces > 0) return `"${glob}" has an unclosed "{"`;
	return undefined;
}

/** Defaults, then the global file, then the project file (section by section). Throws ConfigError. */
export function loadConfig(cwd: string): LoopConfig {
	const files = configPaths(cwd);
	const layers = [files.global, files.project]
		.filter((p) => existsSync(p))
		.map((file) => {
			const layer = readConfigFile(file);
			checkGates(layer.gates, file);
			for (const [key, value] of Object.entries(layer.paths ?? {}))
				(layer.paths as Record<string, string>)[key] = projectRelative(key, value as string, file);
			return layer;
		});
	const merged: LoopConfig = structuredClone(DEFAULT_CONFIG);
	for (const layer of layers) {
		Object.assign(merged.paths, layer.paths);
		Object.assign(merged.hydration, layer.hydration);
		Object.assign(merged.checks, layer.checks);
		Object.assign(merged.build, layer.build);
		Object.assign(merged.roles, layer.roles);
		Object.assign(merged.review, layer.review);
		Object.assign(merged.gates, layer.gates);
	}
	return merged;
}
