/**
 * `.pi/agents/<agent>.md`: defaults for spawns naming that agent. Front
 * matter `model`, `tools` (comma list or [a, b]) and `thinking`; the body is
 * appended to the system prompt. Pure parsing plus one file read.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ThinkingLevel } from "../../core/factory-api.ts";
import { THINKING_LEVELS } from "../../shared/model-spec.ts";

export interface AgentProfile {
	file: string;
	model?: string;
	tools?: string[];
	thinking?: ThinkingLevel;
	/** The body: appended to the system prompt. */
	instructions?: string;
}

export class AgentProfileError extends Error {}

const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function list(value: string): string[] {
	return value
		.replace(/^\[|\]$/g, "")
		.split(",")
		.map((t) => t.trim().replace(/^["']|["']$/g, ""))
		.filter((t) => t !== "");
}

export function parseAgentProfile(file: string, text: string): AgentProfile {
	const profile: AgentProfile = { file };
	let body = text;
	const front = /^---\r?\n(?:([\s\S]*?)\r?\n)?---\r?\n?/.exec(text);
	if (front) {
		body = text.slice(front[0].length);
		for (const line of (front[1] ?? "").split(/\r?\n/)) {
			if (line.trim() === "" || line.trim().startsWith("#")) continue;
			const m = /^([A-Za-z]+)\s*:\s*(.*)$/.exec(line);
			if (!m) throw new AgentProfileError(`${file}: front matter line is not "key: value": ${line}`);
			const [, key, raw] = m as unknown as [string, string, string];
			const value = raw.trim().replace(/^["']|["']$/g, "");
			if (key === "model") profile.model = value;
			else if (key === "tools") profile.tools = list(raw);
			else if (key === "thinking") {
				if (!(THINKING_LEVELS as readonly string[]).includes(value))
					throw new AgentProfileError(`${file}: thinking must be one of ${THINKING_LEVELS.join(", ")}, got "${value}"`);
				profile.thinking = value as ThinkingLevel;
			}
			// other keys (name, description) are for people and other tools
		}
	}
	if (body.trim() !== "") profile.instructions = body.trim();
	return profile;
}

/** The agent's profile, or undefined when the project has none for it. */
export function loadAgentProfile(cwd: string, agent: string): AgentProfile | undefined {
	if (!AGENT_NAME.test(agent)) return undefined; // not a file name: no profile can exist for it
	const file = join(cwd, ".pi", "agents", `${agent}.md`);
	if (!existsSync(file)) return undefined;
	return parseAgentProfile(file, readFileSync(file, "utf8"));
}
