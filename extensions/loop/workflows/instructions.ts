/**
 * Instructions for plan and build iterations and review passes: the
 * package's prompt templates (prompts/loop-<name>.md), unless the project
 * overrides them in `.pi/loop/prompts/<plan|build|review>.md`, or (for
 * iterations) --prompt-file names another file.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_PROMPTS = fileURLToPath(new URL("../../../prompts/", import.meta.url));

function withoutFrontmatter(text: string): string {
	return text.replace(/^---\n[\s\S]*?\n---\n/, "").trim();
}

export function loadInstructions(
	cwd: string,
	name: "plan" | "build" | "code-review",
): { text: string; source: string } {
	const override = join(cwd, ".pi", "loop", "prompts", `${name === "code-review" ? "review" : name}.md`);
	const source = existsSync(override) ? override : join(PACKAGE_PROMPTS, `loop-${name}.md`);
	return { text: withoutFrontmatter(readFileSync(source, "utf8")), source };
}
