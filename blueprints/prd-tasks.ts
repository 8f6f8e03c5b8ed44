/**
 * prd-tasks: works a PRD's checklist top to bottom, one open `- [ ]` item per fresh agent. The agent ticks the item
 * (`- [x]`) when it is done; the file is read again after every spawn, so the file itself is the progress record.
 * An item still open after its attempts stops the run rather than being skipped: later items may depend on it.
 *
 * Args: `[file] [--max N] [--attempts N]` — the PRD (default PRD.md, relative to the project); spawns at most
 * (default 20); spawns per item before giving up (default 2).
 * Ends: returns when no open item is left; throws when an item stays open, or open items remain after max spawns.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Factory } from "pi-loop-factory";

interface Item {
	text: string;
	done: boolean;
}

const ITEM = /^\s*[-*]\s+\[([ xX])\]\s+(.+?)\s*$/;

export default async function prdTasks(factory: Factory, args: string[]) {
	const { file, max, attempts } = parseArgs(args);
	const path = resolve(file);
	let items = readItems(path);
	if (items.length === 0) throw new Error(`prd-tasks: ${file} has no "- [ ]" checklist items`);
	const worked: string[] = [];
	let spawns = 0;
	let tries = 0;
	let current = "";
	for (;;) {
		const open = items.filter((item) => !item.done);
		factory.observe.metric("open items", open.length);
		if (open.length === 0) {
			factory.observe.log("info", `all ${items.length} item(s) ticked, ${spawns} spawn(s)`);
			return { worked, spawns };
		}
		const item = open[0];
		if (item.text === current) {
			if (tries >= attempts) throw new Error(`prd-tasks: "${item.text}" still open after ${attempts} attempt(s)`);
		} else {
			current = item.text;
			tries = 0;
			factory.observe.phase(item.text);
		}
		if (spawns >= max) throw new Error(`prd-tasks: ${open.length} item(s) still open after ${max} spawn(s)`);
		factory.signal.throwIfAborted();
		spawns++;
		tries++;
		factory.observe.log("info", `item ${items.indexOf(item) + 1}/${items.length}, attempt ${tries}: ${item.text}`);
		const result = await factory.spawn({
			agent: "implementer",
			prompt: itemPrompt(file, item, items),
			hydrate: item.text,
			step: `item ${items.indexOf(item) + 1}.${tries}`,
		});
		if (result.exitCode !== 0) {
			factory.observe.log("warning", `agent failed on "${item.text}": ${result.errorMessage ?? result.stopReason}`);
		}
		items = readItems(path);
		if (!items.some((other) => !other.done && other.text === item.text)) worked.push(item.text);
	}
}

function readItems(path: string): Item[] {
	if (!existsSync(path)) throw new Error(`prd-tasks: no PRD file at ${path}`);
	const items: Item[] = [];
	for (const line of readFileSync(path, "utf8").split(/\r?\n/)) {
		const match = ITEM.exec(line);
		if (match) items.push({ done: match[1] !== " ", text: match[2] });
	}
	return items;
}

function itemPrompt(file: string, item: Item, items: Item[]): string {
	const done = items.filter((other) => other.done).map((other) => `- ${other.text}`);
	return [
		`Implement this item from ${file}:`,
		"",
		`  ${item.text}`,
		"",
		done.length > 0 ? `Already done:\n${done.join("\n")}` : "Nothing else is done yet.",
		"",
		`When the item works, change its line in ${file} from "- [ ]" to "- [x]". Tick no other item,`,
		"and leave its line open if you could not finish it.",
	].join("\n");
}

function parseArgs(args: string[]): { file: string; max: number; attempts: number } {
	const found = { file: "PRD.md", max: 20, attempts: 2 };
	let fileGiven = false;
	for (let i = 0; i < args.length; i++) {
		const arg = args[i];
		if (arg === "--max" || arg === "--attempts") {
			const n = Number(args[++i]);
			if (!Number.isInteger(n) || n < 1) {
				throw new Error(`prd-tasks: ${arg} needs a positive whole number, got "${args[i] ?? ""}"`);
			}
			found[arg === "--max" ? "max" : "attempts"] = n;
		} else if (arg.startsWith("--")) {
			throw new Error(`prd-tasks: unknown flag ${arg}`);
		} else if (fileGiven) {
			throw new Error(`prd-tasks: one PRD file only, got extra "${arg}"`);
		} else {
			found.file = arg;
			fileGiven = true;
		}
	}
	return found;
}
