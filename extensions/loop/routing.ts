/**
 * Which model each loop phase runs on: resolves a role once per run (with one
 * warning naming what was skipped and why) and hands out the model choice for
 * it. No choice means "keep the session's model".
 */
import type { Api, Model } from "@mariozechner/pi-ai";
import { type Registry, type RoleMap, resolveRole, skippedWarning } from "../roles/roles.ts";
import type { ModelChoice } from "../roles/switcher.ts";

export class RoleRouter {
	private readonly cache = new Map<string, ModelChoice | undefined>();

	constructor(
		private readonly roles: RoleMap,
		private readonly registry: Registry<Model<Api>>,
		private readonly warn: (message: string) => void,
	) {}

	/** Throws UnknownRoleError (listing the roles) for a name that is neither built in nor configured. */
	choice(role: string): ModelChoice | undefined {
		if (this.cache.has(role)) return this.cache.get(role);
		const r = resolveRole(role, this.roles, this.registry);
		const warning = skippedWarning(r);
		if (warning) this.warn(warning);
		const choice = r.model ? { model: r.model, thinking: r.thinking, role } : undefined;
		this.cache.set(role, choice);
		return choice;
	}

	/**
	 * A role's model only when that role (or one of the given alternatives) is configured and
	 * usable itself — never the default or session model. Skipped specs are warned about once.
	 */
	explicit(role: string, alternatives: string[]): ModelChoice | undefined {
		const skipped: string[] = [];
		let found: ModelChoice | undefined;
		for (const name of [role, ...alternatives]) {
			if (this.roles[name] === undefined) continue;
			const r = resolveRole(name, this.roles, this.registry);
			skipped.push(...r.skipped.filter((s) => s.role === name).map((s) => `${s.spec} (${s.role}: ${s.why})`));
			if (r.model && r.via === name) {
				found = { model: r.model, thinking: r.thinking, role: name };
				break;
			}
		}
		if (skipped.length > 0) {
			const used = found
				? `using ${found.model.provider}/${found.model.id} (${found.role})`
				: "the plain message stands";
			this.warn(`role ${role}: skipped ${skipped.join(", ")}; ${used}`);
		}
		return found;
	}
}
