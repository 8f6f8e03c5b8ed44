/**
 * Unit tests: `.pi/agents/<agent>.md` profiles — front matter (model, tools, thinking), the body as
 * instructions, bad front matter, and agent names that cannot be file names.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
	AgentProfileError,
	loadAgentProfile,
	parseAgentProfile,
} from "../../extensions/loop/blueprint/agent-profile.ts";
import { tempTree } from "../support/temp-tree.ts";

describe("parseAgentProfile", () => {
	it("reads model, tools and thinking from the front matter and the body as instructions", () => {
		const text = [
			"---",
			"name: reviewer",
			"description: reads diffs",
			'model: "anthropic/claude-sonnet-4"',
			"tools: read, grep , ls",
			"thinking: high",
			"---",
			"",
			"You review code.",
			"Be terse.",
			"",
		].join("\n");
		expect(parseAgentProfile("r.md", text)).toEqual({
			file: "r.md",
			model: "anthropic/claude-sonnet-4",
			tools: ["read", "grep", "ls"],
			thinking: "high",
			instructions: "You review code.\nBe terse.",
		});
	});

	it("takes tools as a bracketed list with quotes, and CRLF line ends", () => {
		const text = "---\r\ntools: [read, 'bash', \"edit\"]\r\n# a comment\r\n\r\nthinking: off\r\n---\r\nBody\r\n";
		expect(parseAgentProfile("a.md", text)).toEqual({
			file: "a.md",
			tools: ["read", "bash", "edit"],
			thinking: "off",
			instructions: "Body",
		});
	});

	it("is all instructions without front matter, and has none for an empty body", () => {
		expect(parseAgentProfile("a.md", "Just do it.\n")).toEqual({ file: "a.md", instructions: "Just do it." });
		expect(parseAgentProfile("a.md", "---\nmodel: x/y\n---\n\n  \n")).toEqual({ file: "a.md", model: "x/y" });
		expect(parseAgentProfile("a.md", "")).toEqual({ file: "a.md" });
		expect(parseAgentProfile("a.md", "---\n---\nBody\n")).toEqual({ file: "a.md", instructions: "Body" });
		expect(parseAgentProfile("a.md", "---\nmodel: a/b\n---")).toEqual({ file: "a.md", model: "a/b" });
	});

	it("refuses a thinking level it does not know, naming the file and the levels", () => {
		const parse = () => parseAgentProfile("/p/.pi/agents/x.md", "---\nthinking: max\n---\n");
		expect(parse).toThrow(AgentProfileError);
		expect(parse).toThrow(
			'/p/.pi/agents/x.md: thinking must be one of off, minimal, low, medium, high, xhigh, got "max"',
		);
	});

	it("refuses a front matter line that is not key: value", () => {
		expect(() => parseAgentProfile("x.md", "---\nmodel x/y\n---\n")).toThrow(
			'x.md: front matter line is not "key: value": model x/y',
		);
	});
});

describe("loadAgentProfile", () => {
	const cwd = tempTree("agent-profile-", {
		".pi/agents/fixer.md": "---\nmodel: a/b\n---\nFix it.\n",
		".pi/agents/v1.2_x-y.md": "Dotted.\n",
		".pi/agents/bad.md": "---\nthinking: lots\n---\n",
		"secret.md": "outside the agents folder\n",
	});

	it("loads .pi/agents/<agent>.md", () => {
		expect(loadAgentProfile(cwd, "fixer")).toEqual({
			file: join(cwd, ".pi", "agents", "fixer.md"),
			model: "a/b",
			instructions: "Fix it.",
		});
		expect(loadAgentProfile(cwd, "v1.2_x-y")?.instructions).toBe("Dotted.");
	});

	it("has no profile for an agent without a file", () => {
		expect(loadAgentProfile(cwd, "worker")).toBeUndefined();
		expect(loadAgentProfile(tempTree("agent-profile-none-", {}), "fixer")).toBeUndefined();
	});

	it("has no profile for names that are not plain file names (no path escapes)", () => {
		for (const name of ["../secret", "../../secret", "a/b", "fixer ", " fixer", ".hidden", "", "fix er", "-x"])
			expect(loadAgentProfile(cwd, name), name).toBeUndefined();
	});

	it("passes a bad profile's error on", () => {
		expect(() => loadAgentProfile(cwd, "bad")).toThrow(AgentProfileError);
	});
});
