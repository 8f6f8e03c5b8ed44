/**
 * parallel-items: works a markdown checklist's open `- [ ]` items in waves, each item by its own agent in its own git
 * worktree (`isolation: "worktree"`); the agents of a wave run at the same time. After each wave, `factory.merge`
 * brings their branches into your branch in checklist order (with the check, when given); each merged item is then
 * ticked in the checklist and that file alone committed with the item as the message. An item that did not land (a
 * conflict, a failed check, a merge blocked by your changes, an agent that failed or changed nothing) is tried again
 * in a later wave, on the new base, until its attempts run out. Your uncommitted changes stay as they are: when the
 * checklist file itself has some, merged items are not ticked (a warning says which).
 *
 * Args: `[file] [--parallel N] [--check tests|lint|types|COMMAND] [--attempts N] [--instructions FILE] [--hydrate]`
 * — the checklist (default PRD.md, relative to the project); items per wave (default 2); the check run on each merge
 * before your branch moves (default none); tries per item (default 2); a file whose text every item's agent gets as
 * instructions (appended to its system prompt); context from specs for each item (`hydrate`).
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

export default async function parallelItems(factory: Factory, args: string[]) {
	const options = parseArgs(args);
	const { file, parallel, check, attempts } = options;
	const instructions = options.instructions === undefined ? undefined : readInstructions(options.instructions);
	// The list is read through a step: on resume the journal hands back the list this run started with, although
	// the file has been ticked since, so the waves replay as they ran.
	const read = await factory.exec(`cat -- ${quote(file)}`);
	if (read.exitCode !== 0) throw new Error(`parallel-items: cannot read ${file}: ${read.output.trim()}`);
	const open = openItems(read.stdout, file);
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
					step: `item ${item.n}.${item.tries}`,
				}),
			),
		);
		// Branches with work from agents that finished merge; so do branches without changes (which only removes
		// their worktrees). A failed agent's partial work stays on its branch for review.
		const merging = results.flatMap((result, i) =>
			result.exitCode === 0 || result.filesChanged.length === 0 ? [i] : [],
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
				const notTicked = await tick(factory, options, item.text);
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
				factory.observe.log("warning", `item ${item.n} did not land (${failure}); trying again next wave`);
				record.retry.push(item.text);
				continue;
			}
			const reason = `${failure} (after ${item.tries} attempt(s))`;
			factory.observe.log("error", `item ${item.n} left open: ${reason}`, { item: item.text });
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
	if (!outcome) return "not merged";
	if (outcome.status === "merged") return undefined;
	return `${outcome.status}${outcome.detail ? `: ${outcome.detail}` : ""}`;
}

/**
 * Ticks a merged item in the checklist and commits that file alone; undefined when done, else why not. The file is
 * read fresh and only the item's own `- [ ]` line changes; with your uncommitted changes in it, nothing is touched.
 */
async function tick(factory: Factory, options: Options, text: string): Promise<string | undefined> {
	const { file } = options;
	const status = await factory.exec(`git status --porcelain -- ${quote(file)}`);
	if (status.exitCode !== 0 || status.stdout.trim() !== "") {
		const reason = `merged, but not ticked: ${file} has uncommitted changes (git status: ${status.output.trim()})`;
		factory.observe.log("warning", `"${text}" ${reason}`);
		return reason;
	}
	const path = resolve(file);
	const lines = readFileSync(path, "utf8").split("\n");
	const at = lines.findIndex((line) => {
		const match = ITEM.exec(line);
		return match?.[1] === " " && match[2] === text;
	});
	// Not open any more (ticked by a run this one resumes, or by the agent): the commit below finds nothing to add.
	if (at >= 0) {
		lines[at] = lines[at].replace("[ ]", "[x]");
		writeFileSync(path, lines.join("\n"));
	}
	const commit = await factory.exec(
		`git add -- ${quote(file)} && { git diff --cached --quiet -- ${quote(file)} || ` +
			`git commit -q -m ${quote(text)} -- ${quote(file)}; }`,
	);
	if (commit.exitCode !== 0) {
		const reason = `merged and ticked, but the tick was not committed: ${commit.output.trim()}`;
		factory.observe.log("warning", `"${text}" ${reason}`);
		return reason;
	}
	factory.observe.log("info", `ticked and committed: ${text}`);
	return undefined;
}

function openItems(text: string, file: string): { text: string }[] {
	const items = text.split(/\r?\n/).flatMap((line) => {
		const match = ITEM.exec(line);
		return match ? [{ done: match[1] !== " ", text: match[2] }] : [];
	});
	if (items.length === 0) throw new Error(`parallel-items: ${file} has no "- [ ]" checklist items`);
	const open = items.filter((item) => !item.done);
	const seen = new Set<string>();
	for (const item of open) {
		if (seen.has(item.text)) throw new Error(`parallel-items: the open item "${item.text}" appears twice in ${file}`);
		seen.add(item.text);
	}
	return open;
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
