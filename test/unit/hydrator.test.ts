/** Unit tests: markdown sections, the spec index and the hydrator's budget rules. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hydrate, referencedSpecs, renderHydration } from "../../extensions/hydrate/hydrator.ts";
import { estimateTokens, splitSections } from "../../extensions/hydrate/sections.ts";
import { SpecIndex } from "../../extensions/hydrate/spec-index.ts";
import { DEFAULT_CONFIG, type LoopConfig } from "../../extensions/shared/config.ts";
import { tempTree } from "../support/temp-tree.ts";

const project = (files: Record<string, string>) => tempTree("pi-loop-hydrate-", files);

const config = (budget: number): LoopConfig => ({
	...structuredClone(DEFAULT_CONFIG),
	hydration: { budget, progressLines: 5 },
});

describe("splitSections", () => {
	it("splits at headings outside code fences and keeps the heading trail", () => {
		const md = "intro\n# A\ntext a\n## B\n```\n# not a heading\n```\n# C\nc";
		expect(splitSections("s.md", md).map((s) => [s.index, s.heading])).toEqual([
			[0, ""],
			[1, "A"],
			[2, "A > B"],
			[3, "C"],
		]);
	});
});

describe("SpecIndex", () => {
	it("ranks relevant sections first, skips ignored paths, and updates incrementally", async () => {
		const dir = project({
			"specs/auth.md": "# Auth\n## Login\nLogin with email and password.\n## Logout\nLogout clears the session.",
			"specs/billing.md": "# Billing\nInvoices and taxes.",
			"specs/drafts/old.md": "# Old login\nlogin login login",
			"specs/node_modules/x.md": "# login",
			".gitignore": "specs/drafts/\n",
		});
		const index = new SpecIndex(dir, "specs");
		expect(index.refresh()).toEqual({ added: 2, updated: 0, removed: 0 });
		expect(index.paths()).toEqual(["specs/auth.md", "specs/billing.md"]);
		expect(index.query("login password")[0]).toMatchObject({ path: "specs/auth.md", heading: "Auth > Login" });
		expect(index.refresh()).toEqual({ added: 0, updated: 0, removed: 0 });
		await new Promise((r) => setTimeout(r, 20));
		writeFileSync(join(dir, "specs/billing.md"), "# Billing\nRefunds for login failures.");
		expect(index.refresh()).toEqual({ added: 0, updated: 1, removed: 0 });
		expect(index.query("refunds")[0]?.path).toBe("specs/billing.md");
	});
});

describe("hydrate", () => {
	const files = {
		"specs/auth.md": "# Auth\nLogin returns a session token.",
		"specs/sessions.md": "# Sessions\nA session token expires after an hour.",
		"specs/billing.md": `# Billing\n${"Invoices list line items. ".repeat(200)}`,
		"AGENTS.md": "Run npm test.",
		".planning/STATE.md": "Phase 2.",
		".pi/loop/progress.md": "- one\n- two\n",
	};

	it("puts the task, referenced specs whole, relevant sections and notes in order, within budget", () => {
		const dir = project(files);
		const h = hydrate({
			task: "Implement login (specs/auth.md) with a session token",
			cwd: dir,
			config: config(600),
			index: new SpecIndex(dir, "specs"),
			failures: "FAIL login.test.js",
		});
		expect(h.pieces.map((p) => `${p.kind}:${p.path ?? ""}`)).toEqual([
			"task:",
			"spec:specs/auth.md",
			"section:specs/sessions.md",
			"agents:AGENTS.md",
			"state:.planning/STATE.md",
			"progress:.pi/loop/progress.md",
			"failures:",
		]);
		expect(h.tokens).toBeLessThanOrEqual(600);
		expect(estimateTokens(renderHydration(h))).toBe(h.tokens); // headings and title are counted
		const text = renderHydration(h);
		expect(text).toContain("## specs/auth.md (referenced by the task)");
		expect(text).not.toContain("Invoices list line items");
	});
	it("says when a piece was truncated", () => {
		const dir = project(files);
		const h = hydrate({
			task: "Work on billing (specs/billing.md)",
			cwd: dir,
			config: config(500),
			index: new SpecIndex(dir, "specs"),
		});
		const spec = h.pieces.find((p) => p.path === "specs/billing.md");
		expect(spec?.fullTokens).toBeGreaterThan(spec?.tokens ?? 0);
		expect(renderHydration(h)).toMatch(
			/## specs\/billing\.md \(referenced by the task\) — truncated to \d+ of \d+ tokens/,
		);
	});
	it("ranks the same after incremental changes as a fresh index does", async () => {
		const dir = project(files);
		const input = { task: "session token login", cwd: dir, config: config(2000) };
		const warm = new SpecIndex(dir, "specs");
		hydrate({ ...input, index: warm });
		for (let i = 0; i < 5; i++)
			writeFileSync(join(dir, `specs/extra${i}.md`), `# Extra ${i}\nsession token session token`);
		hydrate({ ...input, index: warm });
		for (let i = 0; i < 5; i++) (await import("node:fs")).rmSync(join(dir, `specs/extra${i}.md`));
		expect(renderHydration(hydrate({ ...input, index: warm }))).toBe(
			renderHydration(hydrate({ ...input, index: new SpecIndex(dir, "specs") })),
		);
	});
	it("reads nested .gitignore files", () => {
		const dir = project({
			...files,
			"specs/old/.gitignore": "*.md\n",
			"specs/old/auth-v1.md": "# Old auth\nsession token login",
		});
		const index = new SpecIndex(dir, "specs");
		index.refresh();
		expect(index.paths()).not.toContain("specs/old/auth-v1.md");
	});
	it("is deterministic and skips AGENTS.md when pi already loaded it", () => {
		const dir = project(files);
		const input = { task: "session token login", cwd: dir, config: config(2000), index: new SpecIndex(dir, "specs") };
		expect(renderHydration(hydrate(input))).toBe(
			renderHydration(hydrate({ ...input, index: new SpecIndex(dir, "specs") })),
		);
		const h = hydrate({ ...input, loadedContextFiles: [join(dir, "AGENTS.md")] });
		expect(h.pieces.some((p) => p.kind === "agents")).toBe(false);
		expect(h.skipped).toContain("AGENTS.md: already in pi's system prompt");
	});
	it("finds referenced specs in several spellings", () => {
		const known = ["specs/a.md", "specs/sub/b.md"];
		expect(referencedSpecs("do (specs/a.md) and ./specs/sub/b.md and specs/missing.md", "specs", known)).toEqual([
			"specs/a.md",
			"specs/sub/b.md",
		]);
	});
});
