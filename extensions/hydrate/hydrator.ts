/**
 * Builds the context block for one task within a token budget: the task, the
 * specs it references (whole), the last failures, AGENTS.md, STATE.md and
 * recent progress notes, then other spec sections ranked by relevance to fill
 * what is left. Every piece names its path; a cut piece says so. Same inputs,
 * same output.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LoopConfig } from "../shared/config.ts";
import { estimateTokens } from "./sections.ts";
import type { SpecIndex } from "./spec-index.ts";

export type PieceKind = "task" | "spec" | "section" | "agents" | "state" | "progress" | "failures";

export interface Piece {
	kind: PieceKind;
	title: string;
	path?: string;
	text: string;
	tokens: number;
	/** Tokens of the full piece when it was cut. */
	fullTokens?: number;
}

export interface HydrationInput {
	task: string;
	cwd: string;
	config: LoopConfig;
	index: SpecIndex;
	/** Output of the last failing check or gate. */
	failures?: string;
	/** Context files pi already put in the system prompt (AGENTS.md is then not repeated). */
	loadedContextFiles?: string[];
}

export interface Hydration {
	pieces: Piece[];
	tokens: number;
	budget: number;
	/** Pieces left out, with why. */
	skipped: string[];
}

/** Cuts text to about `tokens` tokens, keeping the start (or the end, for failure output). */
function cut(text: string, tokens: number, keepEnd = false): string {
	const chars = Math.max(0, tokens * 4);
	if (text.length <= chars) return text;
	return keepEnd ? text.slice(text.length - chars) : text.slice(0, chars);
}

/** Tokens a piece's heading costs in the rendered block (sized for the longest "truncated" note). */
function headingCost(title: string): number {
	return estimateTokens(`## ${title} — truncated to 000000 of 000000 tokens\n\n\n\n`);
}

const BLOCK_TITLE_COST = estimateTokens(
	"# Context for this task (000000 of 000000 tokens, assembled by pi-loop-factory)",
);

function piece(
	kind: PieceKind,
	title: string,
	text: string,
	room: number,
	path?: string,
	keepEnd = false,
): Piece | undefined {
	const full = estimateTokens(text);
	const limit = room - headingCost(title);
	if (limit <= 0 || text.trim() === "") return undefined;
	if (full <= limit) return { kind, title, path, text, tokens: full };
	const kept = cut(text, limit, keepEnd);
	return { kind, title, path, text: kept, tokens: estimateTokens(kept), fullTokens: full };
}

/** Spec paths the task names: `specs/x.md`, `(specs/a/b.md)`, `./specs/y.md`. */
export function referencedSpecs(task: string, specsDir: string, known: string[]): string[] {
	const dir = specsDir.replace(/^\.\//, "").replace(/\/$/, "");
	const found: string[] = [];
	const pattern = /(?:\.\/)?([\w./-]+\.md)\b/g;
	for (const m of task.matchAll(pattern)) {
		const raw = (m[1] as string).replace(/^\.\//, "");
		const path = raw.startsWith(`${dir}/`) ? raw : `${dir}/${raw}`;
		if (known.includes(path) && !found.includes(path)) found.push(path);
	}
	return found;
}

function readIfExists(cwd: string, path: string): string | undefined {
	const full = join(cwd, path);
	return existsSync(full) ? readFileSync(full, "utf8") : undefined;
}

export function hydrate(input: HydrationInput): Hydration {
	const { config, index, cwd } = input;
	const budget = config.hydration.budget;
	index.refresh();
	const pieces: Piece[] = [];
	const skipped: string[] = [];
	// The budget covers the rendered block: headings and the block title count too.
	let left = budget - BLOCK_TITLE_COST;
	const take = (p: Piece | undefined, what: string) => {
		if (!p) {
			skipped.push(`${what}: no room left in the budget`);
			return;
		}
		pieces.push(p);
		left -= p.tokens + headingCost(p.title);
	};

	take(piece("task", "Task", input.task, Math.floor(budget / 4)), "task");

	const referenced = referencedSpecs(input.task, config.paths.specs, index.paths());
	for (const path of referenced)
		take(piece("spec", `${path} (referenced by the task)`, index.text(path) ?? "", left, path), path);

	// Fixed pieces, each with a share of what is left so ranked sections keep room too.
	if (input.failures?.trim())
		take(
			piece("failures", "Last check failures", input.failures, Math.min(left, Math.floor(budget / 5)), undefined, true),
			"last check failures",
		);
	const agentsLoaded = (input.loadedContextFiles ?? []).some((f) => f === join(cwd, config.paths.agents));
	const agents = readIfExists(cwd, config.paths.agents);
	if (agents && agentsLoaded) skipped.push(`${config.paths.agents}: already in pi's system prompt`);
	else if (agents?.trim())
		take(
			piece("agents", config.paths.agents, agents, Math.min(left, Math.floor(budget / 6)), config.paths.agents),
			config.paths.agents,
		);
	const stateNotes = readIfExists(cwd, config.paths.state);
	if (stateNotes?.trim())
		take(
			piece("state", config.paths.state, stateNotes, Math.min(left, Math.floor(budget / 8)), config.paths.state),
			config.paths.state,
		);
	const progress = readIfExists(cwd, config.paths.progress);
	if (progress && config.hydration.progressLines > 0) {
		const recent = progress.trimEnd().split("\n").slice(-config.hydration.progressLines).join("\n");
		if (recent.trim())
			take(
				piece(
					"progress",
					`${config.paths.progress} (last ${config.hydration.progressLines} lines)`,
					recent,
					Math.min(left, Math.floor(budget / 10)),
					config.paths.progress,
					true,
				),
				config.paths.progress,
			);
	}

	// Ranked spec sections fill the rest; a section that does not fit whole is left out.
	let misses = 0;
	for (const hit of index.query(input.task)) {
		if (referenced.includes(hit.path)) continue;
		const title = `${hit.path} § ${hit.heading || "(intro)"} (relevant section)`;
		const tokens = estimateTokens(hit.text);
		if (tokens + headingCost(title) > left) {
			skipped.push(`${hit.path} § ${hit.heading || "(intro)"}: ${tokens} tokens, over the budget left`);
			if (++misses >= 20) break;
			continue;
		}
		take({ kind: "section", title, path: hit.path, text: hit.text, tokens }, hit.path);
	}

	const order: PieceKind[] = ["task", "spec", "section", "agents", "state", "progress", "failures"];
	pieces.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
	const draft: Hydration = { pieces, tokens: 0, budget, skipped };
	draft.tokens = estimateTokens(renderHydration(draft));
	return draft;
}

/** The block the model sees; `tokens` is the size of this rendered text. */
export function renderHydration(h: Hydration): string {
	const parts = [`# Context for this task (${h.tokens} of ${h.budget} tokens, assembled by pi-loop-factory)`];
	for (const p of h.pieces) {
		const cutNote = p.fullTokens ? ` — truncated to ${p.tokens} of ${p.fullTokens} tokens` : "";
		parts.push(`## ${p.title}${cutNote}`, p.text.trimEnd());
	}
	return parts.join("\n\n");
}

/** One line per piece, for previews and the collapsed message. */
export function summarizeHydration(h: Hydration): string[] {
	const lines = h.pieces.map((p) => {
		const truncated = p.fullTokens ? ` (truncated from ${p.fullTokens})` : "";
		return `${p.kind.padEnd(8)} ${String(p.tokens).padStart(6)} tok  ${p.path ?? p.title}${truncated}`;
	});
	for (const s of h.skipped) lines.push(`skipped           ${s}`);
	lines.push(`total    ${String(h.tokens).padStart(6)} tok  of ${h.budget}`);
	return lines;
}
