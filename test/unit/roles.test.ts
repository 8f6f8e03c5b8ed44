/** Unit tests: model specs, role fallback chains and resolution. */
import { describe, expect, it } from "vitest";
import {
	chainFor,
	parseModelSpec,
	resolveRole,
	roleNames,
	skippedWarning,
	UnknownRoleError,
} from "../../extensions/roles/roles.ts";

const models = [
	{ provider: "anthropic", id: "claude-sonnet-4-5" },
	{ provider: "openai", id: "gpt-5" },
	{ provider: "local", id: "qwen3:32b" },
];
const registry = {
	find: (p: string, id: string) => models.find((m) => m.provider === p && m.id === id),
	hasConfiguredAuth: (m: { provider: string }) => m.provider !== "openai",
};

describe("parseModelSpec", () => {
	it("reads provider, id and an optional thinking level", () => {
		expect(parseModelSpec("anthropic/claude-sonnet-4-5:high")).toMatchObject({
			provider: "anthropic",
			id: "claude-sonnet-4-5",
			thinking: "high",
		});
		expect(parseModelSpec("openrouter/meta/llama-3")).toMatchObject({
			provider: "openrouter",
			id: "meta/llama-3",
			thinking: undefined,
		});
		expect(parseModelSpec("local/qwen3:32b")).toMatchObject({ id: "qwen3:32b", thinking: undefined });
		expect(parseModelSpec("no-slash")).toBeUndefined();
		expect(parseModelSpec("a/b c")).toBeUndefined();
	});
});

describe("roles", () => {
	it("fall back along documented chains ending at default", () => {
		expect(chainFor("implement")).toEqual(["implement", "default"]);
		expect(chainFor("commit")).toEqual(["commit", "smol", "default"]);
		expect(chainFor("plan")).toEqual(["plan", "slow", "default"]);
		expect(chainFor("my-custom")).toEqual(["my-custom", "default"]);
		expect(roleNames({ "my-custom": "a/b" })).toContain("my-custom");
	});
	it("resolve to the first usable model, naming what was skipped", () => {
		const r = resolveRole("commit", { commit: ["openai/gpt-5", "nope/x"], smol: "local/qwen3:32b" }, registry);
		expect(r).toMatchObject({ via: "smol", model: { provider: "local", id: "qwen3:32b" } });
		expect(r.skipped).toEqual([
			{ role: "commit", spec: "openai/gpt-5", why: "no API key for openai" },
			{ role: "commit", spec: "nope/x", why: "unknown model" },
		]);
		expect(skippedWarning(r)).toBe(
			"role commit: skipped openai/gpt-5 (commit: no API key for openai), nope/x (commit: unknown model); " +
				"using local/qwen3:32b (smol)",
		);
	});
	it("keep the session's model when nothing is configured, and reject unknown roles", () => {
		const r = resolveRole("review", {}, registry);
		expect([r.via, r.model, r.skipped]).toEqual(["session", undefined, []]);
		expect(resolveRole("plan", { default: "anthropic/claude-sonnet-4-5:low" }, registry)).toMatchObject({
			via: "default",
			thinking: "low",
		});
		expect(() => resolveRole("nope", {}, registry)).toThrow(UnknownRoleError);
	});
});
