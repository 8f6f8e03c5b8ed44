/**
 * What a blueprint run takes from outside while it runs: /loop abort, Esc and
 * --timeout abort it, /loop stop refuses its next steps (RunControls); and
 * which model a spawn runs on (modelResolver: a spec, a role, the fallbacks).
 */
import type { ExtensionAPI, ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { matchesKey } from "@mariozechner/pi-tui";
import { parseModelSpec, roleNames } from "../../roles/roles.ts";
import type { LoopConfig } from "../../shared/config.ts";
import type { Thinking } from "../../shared/model-spec.ts";
import { IdleInput } from "../idle-input.ts";
import type { RoleRouter } from "../routing.ts";
import { type LoopPaths, readControl } from "../store.ts";
import type { LoopState } from "../types.ts";
import type { SpawnModel } from "./factory.ts";
import type { RunOutput } from "./run-blueprint.ts";

/** How a run is ended from outside: /loop abort, Esc and --timeout abort it; /loop stop refuses the next steps. */
export class RunControls {
	readonly controller = new AbortController();
	stop = false;
	/** A step was refused because of /loop stop. */
	refusedByStop = false;
	private readonly disposers: (() => void)[] = [];

	constructor(paths: LoopPaths, state: LoopState, ctx: ExtensionCommandContext, out: RunOutput) {
		const { controller } = this;
		const watcher = setInterval(() => {
			const control = readControl(paths, state.runId);
			if (control === "abort" && !controller.signal.aborted) controller.abort("aborted");
			if (control === "stop") this.stop = true;
		}, 250);
		this.disposers.push(() => clearInterval(watcher));
		const timeoutMs = state.options.timeoutMs;
		if (timeoutMs !== undefined) {
			const deadline = setTimeout(() => controller.abort("timeout"), Math.max(0, timeoutMs - state.elapsedMs));
			this.disposers.push(() => clearTimeout(deadline));
		}
		const idle = new IdleInput((command) => {
			if (command === "abort") controller.abort("aborted");
			else if (command === "stop") this.stop = true;
			else out.say(`blueprint ${state.blueprint?.file}: ${state.blueprint?.spawns.length ?? 0} spawns so far`);
		});
		idle.attach(ctx);
		this.disposers.push(() => idle.detach());
		if (ctx.hasUI) {
			const unsubscribe = ctx.ui.onTerminalInput((data) => {
				if (!matchesKey(data, "escape") || controller.signal.aborted) return undefined;
				controller.abort("aborted");
				out.say("loop: Esc — the blueprint run is being aborted", "warning");
				return { consume: true };
			});
			this.disposers.push(unsubscribe);
		}
	}

	stopRequested = (): boolean => {
		if (this.stop) this.refusedByStop = true;
		return this.stop;
	};

	dispose(): void {
		for (const dispose of this.disposers.splice(0)) dispose();
	}
}

/**
 * A spawn's `model` (provider/model[:thinking] or a role name) or its role → the model it runs on. An unusable
 * model falls back along the role chain with one warning per model, or is an error under --strict-models.
 */
export function modelResolver(
	pi: ExtensionAPI,
	ctx: ExtensionCommandContext,
	router: RoleRouter,
	config: LoopConfig,
	strict: boolean,
	warn: (detail: string) => void,
): (spec: string | undefined, role: string) => SpawnModel {
	const session = { model: ctx.model, thinking: pi.getThinkingLevel() as Thinking };
	const warned = new Set<string>();
	const fromRole = (name: string): SpawnModel => {
		const choice = router.choice(name);
		return choice ? { model: choice.model, thinking: choice.thinking, role: name } : { ...session, role: name };
	};
	return (spec, spawnRole) => {
		if (spec === undefined) return fromRole(spawnRole);
		const parsed = parseModelSpec(spec);
		let problem: string;
		if (!parsed) {
			if (roleNames(config.roles).includes(spec)) return fromRole(spec);
			problem = "neither provider/model[:thinking] nor a role name";
		} else {
			const model = ctx.modelRegistry.find(parsed.provider, parsed.id);
			if (model && ctx.modelRegistry.hasConfiguredAuth(model)) return { model, thinking: parsed.thinking, role: "" };
			problem = model ? `no API key for ${parsed.provider}` : "unknown model";
		}
		if (strict) throw new Error(`factory.spawn: model "${spec}": ${problem} (--strict-models)`);
		const fallback = fromRole(spawnRole);
		if (!warned.has(spec)) {
			warned.add(spec);
			const used = fallback.model ? `${fallback.model.provider}/${fallback.model.id}` : "the session's model";
			warn(`model "${spec}" skipped (${problem}); using ${used} (role ${spawnRole})`);
		}
		return fallback;
	};
}
