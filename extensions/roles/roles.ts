/**
 * Model roles: names (plan, implement, review, commit, …) mapped to model
 * specs `provider/model-id[:thinking]` or fallback lists of them, the chain
 * an unset role falls back along, and resolution to a usable model. Pure
 * apart from the registry handed in.
 */
import { MODEL_SPEC_PATTERN, type Thinking } from "../shared/model-spec.ts";

export const BUILTIN_ROLES = ["default", "plan", "implement", "review", "commit", "smol", "slow"] as const;

/** Where an unset (or unusable) role falls back to; every chain ends at "default", then the session's model. */
export const FALLBACKS: Record<string, string[]> = {
	default: [],
	plan: ["slow", "default"],
	review: ["slow", "default"],
	implement: ["default"],
	commit: ["smol", "default"],
	smol: ["default"],
	slow: ["default"],
};

export interface ModelSpec {
	provider: string;
	id: string;
	thinking?: Thinking;
	text: string;
}

export function parseModelSpec(text: string): ModelSpec | undefined {
	const m = new RegExp(MODEL_SPEC_PATTERN).exec(text.trim());
	if (!m) return undefined;
	const colon = text.lastIndexOf(":");
	const thinking = m[2] as Thinking | undefined;
	const body = thinking ? text.slice(0, colon) : text.trim();
	const slash = body.indexOf("/");
	return { provider: body.slice(0, slash), id: body.slice(slash + 1), thinking, text: text.trim() };
}

export type RoleMap = Record<string, string | string[]>;

/** Known role names: the built-in ones and any configured. */
export function roleNames(roles: RoleMap): string[] {
	return [...new Set([...BUILTIN_ROLES, ...Object.keys(roles)])];
}

/** The roles to try, in order, for a role: itself, then its fallbacks (custom roles fall back to default). */
export function chainFor(role: string): string[] {
	const rest = FALLBACKS[role] ?? ["default"];
	return [role, ...rest];
}

export interface ModelLike {
	provider: string;
	id: string;
}

export interface Registry<M extends ModelLike> {
	find(provider: string, id: string): M | undefined;
	hasConfiguredAuth(model: M): boolean;
}

export interface Resolution<M extends ModelLike> {
	role: string;
	/** The role whose spec was used ("session" when none was usable or set). */
	via: string;
	model?: M;
	thinking?: Thinking;
	spec?: string;
	/** Specs passed over, with why. */
	skipped: { role: string; spec: string; why: string }[];
}

export class UnknownRoleError extends Error {}

/** The first usable model along the role's chain; no model means "keep the session's model". */
export function resolveRole<M extends ModelLike>(role: string, roles: RoleMap, registry: Registry<M>): Resolution<M> {
	if (!roleNames(roles).includes(role)) {
		throw new UnknownRoleError(`unknown role "${role}"; roles: ${roleNames(roles).join(", ")}`);
	}
	const skipped: Resolution<M>["skipped"] = [];
	for (const name of chainFor(role)) {
		const configured = roles[name];
		const specs = configured === undefined ? [] : Array.isArray(configured) ? configured : [configured];
		for (const text of specs) {
			const spec = parseModelSpec(text);
			if (!spec) {
				skipped.push({ role: name, spec: text, why: "not a provider/model-id[:thinking] spec" });
				continue;
			}
			const model = registry.find(spec.provider, spec.id);
			if (!model) {
				skipped.push({ role: name, spec: text, why: "unknown model" });
				continue;
			}
			if (!registry.hasConfiguredAuth(model)) {
				skipped.push({ role: name, spec: text, why: `no API key for ${spec.provider}` });
				continue;
			}
			return { role, via: name, model, thinking: spec.thinking, spec: text, skipped };
		}
	}
	return { role, via: "session", skipped };
}

/** One line for the warning shown when specs were passed over. */
export function skippedWarning(r: Resolution<ModelLike>): string | undefined {
	if (r.skipped.length === 0) return undefined;
	const what = r.skipped.map((s) => `${s.spec} (${s.role}: ${s.why})`).join(", ");
	const used = r.model ? `${r.model.provider}/${r.model.id} (${r.via})` : "the session's model";
	return `role ${r.role}: skipped ${what}; using ${used}`;
}
