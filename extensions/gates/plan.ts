/**
 * The gates in effect for a project: each kind from the config when it names
 * that kind, detected otherwise. A broken config turns every gate off and
 * keeps the error to show (gates are never half-on).
 */
import { ConfigError, DEFAULT_CONFIG, GATE_KINDS, type GateKind, loadConfig } from "../shared/config.ts";
import { type DetectedGate, detectGates } from "./detect.ts";
import { DIAGNOSTIC_SERVERS } from "./diagnostic-servers.ts";

export interface Gate extends DetectedGate {
	kind: GateKind;
	/** Seconds. */
	timeout: number;
	/** Where it came from: "config" or the detected marker. */
	origin: "config" | "detected";
}

export interface GatePlan {
	enabled: boolean;
	rounds: number;
	protectedPaths: string[];
	gates: Gate[];
	/** Set when the config could not be used; every gate is off then. */
	configError?: string;
}

export const DEFAULT_TIMEOUT: Record<GateKind, number> = { onWrite: 15, onTurnEnd: 120, onDone: 600 };

export function planGates(cwd: string): GatePlan {
	let config: ReturnType<typeof loadConfig>;
	try {
		config = loadConfig(cwd);
	} catch (error) {
		if (!(error instanceof ConfigError)) throw error;
		const { rounds, protectedPaths } = DEFAULT_CONFIG.gates;
		return { enabled: false, rounds, protectedPaths, gates: [], configError: error.message };
	}
	const { enabled, rounds, protectedPaths } = config.gates;
	const gates: Gate[] = [];
	for (const kind of GATE_KINDS) {
		const configured = config.gates[kind];
		const list: DetectedGate[] = configured
			? configured.map((g) => ({ ...g, source: "config" }))
			: detectGates(cwd, kind);
		for (const gate of list) {
			// A language server only understands its own languages; README.md is not TypeScript.
			const glob = gate.glob ?? (gate.languageServer ? DIAGNOSTIC_SERVERS[gate.languageServer].glob : undefined);
			const server = gate.languageServer ? DIAGNOSTIC_SERVERS[gate.languageServer].choose(cwd) : undefined;
			const unavailable = gate.unavailable ?? (server && "unavailable" in server ? server.unavailable : undefined);
			gates.push({
				...gate,
				...(unavailable ? { unavailable } : {}),
				glob,
				kind,
				timeout: gate.timeout ?? DEFAULT_TIMEOUT[kind],
				origin: configured ? "config" : "detected",
			});
		}
	}
	return { enabled, rounds, protectedPaths, gates };
}
