/**
 * parallel-items: works a markdown checklist's open `- [ ]` items in waves, each item by its own agent in its own git
 * worktree (`isolation: "worktree"`); the agents of a wave run at the same time. With a check, it runs in each
 * item's worktree when its agent is done; items that pass (all items, without a check) are brought into your branch
 * by `factory.merge` in checklist order, the check running again on each merged result before your branch moves.
 * Each merged item is then ticked in the checklist and that file alone committed with the item as the message. An
 * item that did not land (a failed check, a conflict, a merge blocked by your changes, an agent that failed or
 * changed nothing) is tried again in a later wave, on the new base, until its attempts run out; then it is marked
 * blocked in the checklist as `/loop build` does (`<!-- loop: blocked: why -->`), and items so marked are skipped.
 * Your uncommitted changes stay as they are: when the checklist file itself has some, it is not edited (a warning
 * says which items).
 *
 * Args: `[file] [--parallel N] [--check tests|lint|types|COMMAND] [--attempts N] [--instructions FILE] [--hydrate]`
 * — the checklist (default PRD.md, relative to the project); items per wave (default 2); the check, in the item's
 * worktree and on each merge (default none); tries per item (default 2); a file whose text every item's agent gets
 * as instructions (appended to its system prompt); context from specs for each item (`hydrate`).
 * Ends: returns when every item is ticked; throws listing the items left open, each with its reason.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Factory, MergeResult, SpawnResult } from "pi-loop-factory";

interface Options {
	file: string;
	parallel: number;
	check?: string;
	attempts: number;
	instructions?: string;
	hydrate: boolean;
}

interface Item {
	text: string;
	/** Position among the checklist's open items, from 1. */
	n: number;
	tries: number;
	/** Why the last try did not land. */
	lastFailure?: string;
}

interface WaveRecord {
	wave: number;
	items: string[];
	ticked: string[];
	retry: string[];
	leftOpen: string[];
}

const ITEM = /^\s*[-*]\s+\[([ xX])\]\s+(.+?)\s*$/;
/** `/loop build`'s marker for an item it gave up on. */
const BLOCKED = /\s*<!--\s*loop:\s*blocked:\s*(.*?)\s*-->\s*$/;

export default async function parallelItems(factory: Factory, args: string[]) {
	const options = parseArgs(args);
	const { file, parallel, check, attempts } = options;
	const instructions = options.instructions === undefined ? undefined : readInstructions(options.instructions);
	// The list is read through a step: on resume the journal hands back the list this run started with, although
	// the file has been ticked since, so the waves replay as they ran.
	const read = await factory.exec(`cat -- ${quote(file)}`);
	if (read.exitCode !== 0) throw new Error(`parallel-items: cannot read ${file}: ${read.output.trim()}`);
	const { open, blocked: skipped } = openItems(read.stdout, file);
	if (skipped > 0) factory.observe.log("info", `${file}: ${skipped} item(s) marked blocked are skipped`);
	const done: string[] = [];
	const blocked: { item: string; reason: string }[] = [];
	const waves: WaveRecord[] = [];
	Object.assign(factory.state, { file, done, blocked, waves, open: open.map((item) => item.text) });
	if (open.length === 0) {
		factory.observe.log("info", `${file}: no open items`);
		return { done, waves: 0 };
	}
	let pending: Item[] = open.map((text, i) => ({ text: text.text, n: i + 1, tries: 0 }));
	for (let wave = 1; pending.length > 0; wave++) {
		factory.signal.throwIfAborted();
		const batch = pending.slice(0, parallel);
		factory.observe.phase(`wave ${wave}: ${batch.length} item(s)`);
		for (const item of batch) {
			item.tries++;
			factory.observe.log("info", `wave ${wave}: item ${item.n}, attempt ${item.tries}: ${item.text}`);
		}
		const results = await Promise.all(
			batch.map((item) =>
				factory.spawn({
					agent: "item",
					prompt: itemPrompt(file, item),
					systemPrompt: instructions,
					hydrate: options.hydrate ? item.text : undefined,
					isolation: "worktree",
					check,
					step: `item ${item.n}.${item.tries}`,
				}),
			),
		);
		// Branches with work that passed the check where it was made merge; so do branches without changes (which
		// only removes their worktrees). A failed agent's or check's work stays on its branch for review.
		const merging = results.flatMap((result, i) =>
			(result.exitCode === 0 && result.check?.passed !== false) || result.filesChanged.length === 0 ? [i] : [],
		);
		const merged =
			merging.length > 0
				? await factory.merge(
						merging.map((i) => results[i]),
						{ check },
					)
				: [];
		const record: WaveRecord = { wave, items: batch.map((item) => item.text), ticked: [], retry: [], leftOpen: [] };
		for (const [i, item] of batch.entries()) {
			const outcome = merging.includes(i) ? merged[merging.indexOf(i)] : undefined;
			const failure = whyNotLanded(results[i], outcome);
			if (failure === undefined) {
				const notTicked = await recordItem(factory, options, item.text);
				if (notTicked === undefined) {
					done.push(item.text);
					record.ticked.push(item.text);
				} else {
					blocked.push({ item: item.text, reason: notTicked });
					record.leftOpen.push(item.text);
				}
				pending = pending.filter((other) => other !== item);
				continue;
			}
			item.lastFailure = failure;
			if (item.tries < attempts) {
				const why = failure.split("\n")[0];
				factory.observe.log("warning", `item ${item.n} did not land (${why}); trying again next wave`);
				record.retry.push(item.text);
				continue;
			}
			const reason = `${failure.split("\n")[0]} (after ${item.tries} attempt(s))`;
			factory.observe.log("error", `item ${item.n} left open: ${reason}`, { item: item.text });
			await recordItem(factory, options, item.text, reason);
			blocked.push({ item: item.text, reason });
			record.leftOpen.push(item.text);
			pending = pending.filter((other) => other !== item);
		}
		waves.push(record);
		factory.observe.metric("items ticked", done.length);
		factory.observe.metric("items pending", pending.length);
	}
	if (blocked.length > 0) {
		const list = blocked.map((b) => `"${b.item}": ${b.reason}`).join("; ");
		throw new Error(`parallel-items: ${blocked.length} item(s) left open in ${file}: ${list}`);
	}
	factory.observe.log("info", `all ${done.length} item(s) ticked in ${waves.length} wave(s)`);
	return { done, waves: waves.length };
}

/** Undefined when the item's work is in your branch now; otherwise why not. */
function whyNotLanded(result: SpawnResult, outcome: MergeResult | undefined): string | undefined {
	if (result.exitCode !== 0) return `the agent failed: ${result.errorMessage ?? result.stopReason}`;
	if (result.filesChanged.length === 0) return "the agent changed nothing";
	if (result.check?.passed === false) {
		const tail = result.check.output.trim().split("\n").slice(-15).join("\n");
		return `the check failed in its worktree (${result.check.command}):\n${tail}`;
	}
	if (!outcome) return "not merged";
	if (outcome.status === "merged") return undefined;
	return `${outcome.status}${outcome.detail ? `: ${outcome.detail}` : ""}`;
}

/**
 * Ticks a merged item in the checklist — or marks one that ran out of attempts blocked, as `/loop build` does (an
 * HTML comment at the end of its line, which later runs skip) — and commits that file alone; undefined when done,
 * else why not. The file is read fresh and only the item's own `- [ ]` line changes; with your uncommitted changes
 * in it, nothing is touched.
 */
async function recordItem(
	factory: Factory,
	options: Options,
	text: string,
	blockedBecause?: string,
): Promise<string | undefined> {
	const { file } = options;
	const what = blockedBecause === undefined ? "ticked" : "marked blocked";
	const status = await factory.exec(`git status --porcelain -- ${quote(file)}`);
	if (status.exitCode !== 0 || status.stdout.trim() !== "") {
		const not = blockedBecause === undefined ? "merged, but not ticked" : "not marked blocked";
		const reason = `${not}: ${file} has uncommitted changes (git status: ${status.output.trim()})`;
		factory.observe.log("warning", `"${text}" ${reason}`);
		return reason;
	}
	const path = resolve(file);
	const lines = readFileSync(path, "utf8").split("\n");
	const at = lines.findIndex((line) => {
		const match = ITEM.exec(line);
		return match?.[1] === " " && itemText(match[2]) === text;
	});
	// Not open any more (ticked by a run this one resumes, or by the agent): the commit below finds nothing to add.
	if (at >= 0) {
		const line = lines[at].replace(BLOCKED, "");
		lines[at] =
			blockedBecause === undefined
				? line.replace("[ ]", "[x]")
				: `${line.replace(/\s+$/, "")} <!-- loop: blocked: ${oneLine(blockedBecause)} -->`;
		writeFileSync(path, lines.join("\n"));
	}
	const message = blockedBecause === undefined ? text : `loop: blocked: ${text}`;
	const commit = await factory.exec(
		`git add -- ${quote(file)} && { git diff --cached --quiet -- ${quote(file)} || ` +
			`git commit -q -m ${quote(message)} -- ${quote(file)}; }`,
	);
	if (commit.exitCode !== 0) {
		const reason = `${what}, but not committed: ${commit.output.trim()}`;
		factory.observe.log("warning", `"${text}" ${reason}`);
		return reason;
	}
	factory.observe.log("info", `${what} and committed: ${text}`);
	return undefined;
}

/** A reason fit for an HTML comment on the item's line (as `/loop build` writes it). */
function oneLine(reason: string): string {
	return reason.replace(/--+>?/g, "-").replace(/\s+/g, " ").trim().slice(0, 300);
}

/** An item's text without a blocked marker. */
function itemText(rest: string): string {
	return rest.replace(BLOCKED, "").trim();
}

/** The open items (neither ticked nor marked blocked) and how many are marked blocked. */
function openItems(text: string, file: string): { open: { text: string }[]; blocked: number } {
	const items = text.split(/\r?\n/).flatMap((line) => {
		const match = ITEM.exec(line);
		return match ? [{ done: match[1] !== " ", blocked: BLOCKED.test(match[2]), text: itemText(match[2]) }] : [];
	});
	if (items.length === 0) throw new Error(`parallel-items: ${file} has no "- [ ]" checklist items`);
	const open = items.filter((item) => !item.done && !item.blocked);
	const seen = new Set<string>();
	for (const item of open) {
		if (seen.has(item.text)) throw new Error(`parallel-items: the open item "${item.text}" appears twice in ${file}`);
		seen.add(item.text);
	}
	return { open, blocked: items.filter((item) => !item.done && item.blocked).length };
}

function itemPrompt(file: string, item: Item): string {
	return [
		`Implement this one item from the checklist in ${file}:`,
		"",
		`  ${item.text}`,
		"",
		"Other agents work on other items of the list at the same time, each in its own copy of the project; your",
		"changes are merged into the project when you finish. Do only this item.",
		`Do not edit ${file}: the item is ticked there once your work is merged.`,
		...(item.lastFailure
			? [
					"",
					`An earlier attempt at this item did not land: ${item.lastFailure}.`,
					"You start from the project as it is now, with the other items' merged work in it.",
				]
			: []),
	].join("\n");
}

/** The instructions file's text (relative to the project); a missing or empty file is an error. */
function readInstructions(path: string): string {
	let text: string;
	try {
		text = readFileSync(resolve(path), "utf8");
	} catch (error) {
		throw new Error(`parallel-items: cannot read --instructions ${path}: ${(error as Error).message}`);
	}
	const body = text.replace(/^---\r?\n[\s\S]*?\r?\n---\r?\n/, ""); // a prompt template's front matter
	if (body.trim() === "") throw new Error(`parallel-items: --instructions ${path} is empty`);
	return body.trim();
}

/** One shell word. */
function quote(text: string): string {
	return `'${text.replace(/'/g, `'\\''`)}'`;
}

function parseArgs(args: string[]): Options {
	const found: Options = { file: "PRD.md", parallel: 2, attempts: 2, hydrate: false };
	let fileGiven = false;
	for (let i = 0; i < args.length; i++) {
		const arg = args[i];
		if (arg === "--parallel" || arg === "--attempts") {
			const n = Number(args[++i]);
			if (!Number.isInteger(n) || n < 1) {
				throw new Error(`parallel-items: ${arg} needs a positive whole number, got "${args[i] ?? ""}"`);
			}
			found[arg === "--parallel" ? "parallel" : "attempts"] = n;
		} else if (arg === "--hydrate") {
			found.hydrate = true;
		} else if (arg === "--instructions") {
			const value = args[++i];
			if (value === undefined || value.trim() === "") throw new Error("parallel-items: --instructions needs a file");
			found.instructions = value;
		} else if (arg === "--check") {
			const value = args[++i];
			if (value === undefined || value.trim() === "") throw new Error("parallel-items: --check needs a check name");
			found.check = value;
		} else if (arg.startsWith("--")) {
			throw new Error(`parallel-items: unknown flag ${arg}`);
		} else if (fileGiven) {
			throw new Error(`parallel-items: one checklist file only, got extra "${arg}"`);
		} else {
			found.file = arg;
			fileGiven = true;
		}
	}
	return found;
}
