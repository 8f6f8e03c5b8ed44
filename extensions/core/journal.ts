/**
 * A blueprint run's journal (`journal.jsonl`): every finished spawn, exec,
 * check and merge, keyed by its position in the run and a hash of its options.
 * A resumed run replays recorded steps whose position and key match. A step that
 * was not recorded (cut off by the crash) runs live while later recorded ones
 * still replay (they ran beside it, not after it); a step recorded with other
 * options runs live, as does every later one, and a `diverged` line marks that
 * point, so a later resume never replays an older attempt's steps past it.
 */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, readFileSync } from "node:fs";

export type StepKind = "spawn" | "exec" | "check" | "merge";

interface StepLine {
	type: "step";
	position: number;
	kind: StepKind;
	key: string;
	result: unknown;
}
interface DivergedLine {
	type: "diverged";
	position: number;
	/** Why replay stopped there: "not recorded" or "options changed". */
	why: string;
}
type JournalLine = StepLine | DivergedLine;

/** JSON with object keys sorted, so equal options hash equally whatever their order. */
function stableJson(value: unknown): string {
	if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
	if (value && typeof value === "object") {
		const entries = Object.entries(value as Record<string, unknown>)
			.filter(([, v]) => v !== undefined && typeof v !== "function")
			.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
		return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
	}
	return JSON.stringify(value) ?? "null";
}

export function stepKey(kind: StepKind, options: unknown): string {
	return createHash("sha256")
		.update(`${kind}\n${stableJson(options)}`)
		.digest("hex")
		.slice(0, 16);
}

/** What `begin` decided for a step. */
export interface StepStart {
	position: number;
	key: string;
	/** The recorded result, when the step replays. */
	replay?: { result: unknown };
	/** Set on the step where replay stopped (once per run). */
	diverged?: string;
}

export class Journal {
	private readonly recorded = new Map<number, StepLine>();
	private next = 0;
	private live = false;
	private gapReported = false;
	/** The file ends in a line cut off by a crash: the next append starts a new line first. */
	private cutOff = false;

	constructor(private readonly file: string) {
		if (!existsSync(file)) return;
		const content = readFileSync(file, "utf8");
		this.cutOff = content !== "" && !content.endsWith("\n");
		for (const text of content.split("\n")) {
			if (text.trim() === "") continue;
			let line: JournalLine;
			try {
				line = JSON.parse(text) as JournalLine;
			} catch {
				continue; // a line cut off by a crash
			}
			if (line.type === "diverged") {
				for (const position of [...this.recorded.keys()]) if (position >= line.position) this.recorded.delete(position);
			} else if (line.type === "step") this.recorded.set(line.position, line);
		}
	}

	/** Steps recorded by earlier attempts that a resumed run can replay. */
	get size(): number {
		return this.recorded.size;
	}

	/** Positions claimed so far in this attempt (steps started, replayed or live). */
	get claimed(): number {
		return this.next;
	}

	/** Claims the next position (in call order, synchronously) and says whether the step replays. */
	begin(kind: StepKind, options: unknown): StepStart {
		const position = this.next++;
		const key = stepKey(kind, options);
		if (this.live) return { position, key };
		const entry = this.recorded.get(position);
		if (entry && entry.kind === kind && entry.key === key) return { position, key, replay: { result: entry.result } };
		if (!entry) {
			// Cut off by the crash (or never reached): this step runs live; the first such gap is reported.
			const report = !this.gapReported && this.recorded.size > 0;
			this.gapReported = true;
			return { position, key, diverged: report ? "not recorded" : undefined };
		}
		this.live = true;
		const why = `${entry.kind} step ${position + 1} was recorded with other options`;
		this.append({ type: "diverged", position, why });
		return { position, key, diverged: why };
	}

	record(start: StepStart, kind: StepKind, result: unknown): void {
		this.append({ type: "step", position: start.position, kind, key: start.key, result });
	}

	private append(line: JournalLine): void {
		appendFileSync(this.file, `${this.cutOff ? "\n" : ""}${JSON.stringify(line)}\n`);
		this.cutOff = false;
	}
}
