/**
 * fan-out-review: parallel workers, then one reviewer. The work items are dealt round-robin into groups, every
 * group goes to its own "worker" spawn at the same time (`Promise.all`; the run's --concurrency caps how many run
 * at once), and a single spawn with the review role reads all the workers' answers and judges them.
 *
 * Args: `[item…] [--file PATH] [--workers N]` — the items as args, or the open `- [ ]` items of a markdown file
 * (not both); at most N worker spawns (default 4).
 * Ends: returns when the review's answer starts with PASS; throws when a worker fails or the review lists problems.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Factory, SpawnResult } from "pi-loop-factory";

export default async function fanOutReview(factory: Factory, args: string[]) {
	const { items, workers } = parseArgs(args);
	const groups = deal(items, Math.min(workers, items.length));
	factory.observe.phase(`fan-out: ${items.length} item(s), ${groups.length} worker(s)`);
	factory.signal.throwIfAborted();
	const results = await Promise.all(
		groups.map((group, index) =>
			factory.spawn({
				agent: "worker",
				prompt: workerPrompt(group),
				step: `worker ${index + 1}`,
			}),
		),
	);
	const failed = results.flatMap((result, index) => (result.exitCode === 0 ? [] : [index + 1]));
	factory.observe.metric("workers failed", failed.length);
	if (failed.length > 0) {
		throw new Error(`fan-out-review: worker(s) ${failed.join(", ")} did not finish; nothing was reviewed`);
	}
	factory.observe.phase("review");
	factory.signal.throwIfAborted();
	const review = await factory.spawn({
		agent: "reviewer",
		role: "review",
		prompt: reviewPrompt(groups, results),
		step: "review",
	});
	if (review.exitCode !== 0) throw new Error(`fan-out-review: the review did not finish: ${review.errorMessage ?? ""}`);
	const verdict = review.text.trim();
	if (!/^PASS\b/.test(verdict)) {
		factory.observe.log("error", "review found problems", { review: verdict });
		throw new Error(`fan-out-review: review did not pass:\n${verdict.slice(0, 2000)}`);
	}
	factory.observe.log("info", `review passed ${items.length} item(s)`);
	return { items: items.length, workers: groups.length };
}

/** Items dealt round-robin into `count` groups: group i gets items i, i+count, i+2·count… */
function deal(items: string[], count: number): string[][] {
	const groups: string[][] = Array.from({ length: count }, () => []);
	for (const [index, item] of items.entries()) groups[index % count].push(item);
	return groups;
}

function workerPrompt(group: string[]): string {
	return [
		"Do these work items. Other agents are working on other items at the same time, so touch only what",
		"your items need.",
		"",
		...group.map((item) => `- ${item}`),
		"",
		"Finish with a short account of what you changed, item by item.",
	].join("\n");
}

function reviewPrompt(groups: string[][], results: SpawnResult[]): string {
	const reports = results.map((result, index) =>
		[
			`## Worker ${index + 1}`,
			`Items: ${groups[index].join("; ")}`,
			`Files changed: ${result.filesChanged.join(", ") || "none"}`,
			"",
			result.text,
		].join("\n"),
	);
	return [
		"Several workers did the items below in parallel. Review their changes in the project, not only their words.",
		"Answer PASS on the first line when every item is done correctly and the changes fit together;",
		"otherwise list each problem, with the file and what is wrong, and do not write PASS.",
		"",
		...reports,
	].join("\n");
}

function parseArgs(args: string[]): { items: string[]; workers: number } {
	let file: string | undefined;
	let workers = 4;
	const items: string[] = [];
	for (let i = 0; i < args.length; i++) {
		const arg = args[i];
		const value = args[i + 1];
		if (arg === "--file") {
			if (value === undefined || value.trim() === "") throw new Error("fan-out-review: --file needs a path");
			file = value;
			i++;
		} else if (arg === "--workers") {
			workers = Number(value);
			if (!Number.isInteger(workers) || workers < 1) {
				throw new Error(`fan-out-review: --workers needs a positive whole number, got "${value ?? ""}"`);
			}
			i++;
		} else if (arg.startsWith("--")) {
			throw new Error(`fan-out-review: unknown flag ${arg}`);
		} else if (arg.trim() !== "") {
			items.push(arg.trim());
		}
	}
	if (file !== undefined && items.length > 0) {
		throw new Error("fan-out-review: give items as args or --file, not both");
	}
	if (file !== undefined) items.push(...openItems(file));
	if (items.length === 0) {
		throw new Error(`fan-out-review: no work items (${file ? `${file} has no open "- [ ]" items` : "none given"})`);
	}
	return { items, workers };
}

function openItems(file: string): string[] {
	const path = resolve(file);
	if (!existsSync(path)) throw new Error(`fan-out-review: no file at ${path}`);
	return readFileSync(path, "utf8")
		.split(/\r?\n/)
		.flatMap((line) => /^\s*[-*]\s+\[ \]\s+(.+?)\s*$/.exec(line)?.[1] ?? []);
}
