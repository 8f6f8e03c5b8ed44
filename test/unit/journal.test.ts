/**
 * Unit tests: the blueprint run's journal (journal.jsonl) — positions and option keys, replay until the first
 * mismatch, `diverged` markers that drop an older attempt's steps on load, and lines cut off by a crash.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Journal, type StepKind, type StepStart, stepKey } from "../../extensions/core/journal.ts";
import { tempTree } from "../support/temp-tree.ts";

const journalFile = () => join(tempTree("journal-", {}), "journal.jsonl");
const lines = (file: string) =>
	readFileSync(file, "utf8")
		.split("\n")
		.filter((l) => l !== "")
		.map((l) => JSON.parse(l) as { type: string; position: number; why?: string });

/** One attempt: runs `steps` through a fresh Journal on `file`, recording `<tag>:<position>` for live steps. */
function attempt(file: string, steps: [StepKind, unknown][], tag: string) {
	const journal = new Journal(file);
	const seen = steps.map(([kind, options]) => {
		const start = journal.begin(kind, options);
		if (!start.replay) journal.record(start, kind, `${tag}:${start.position}`);
		return { position: start.position, replayed: start.replay?.result, diverged: start.diverged };
	});
	return { journal, seen };
}

describe("stepKey", () => {
	it("ignores key order, undefined values and functions, but not the kind or a value", () => {
		const a = stepKey("spawn", { prompt: "p", agent: "a", nested: { y: 1, x: [1, { b: 2, a: 1 }] } });
		const b = stepKey("spawn", { nested: { x: [1, { a: 1, b: 2 }], y: 1 }, agent: "a", prompt: "p", gone: undefined });
		expect(a).toBe(b);
		expect(stepKey("spawn", { f: () => 1, p: 1 })).toBe(stepKey("spawn", { p: 1 }));
		expect(stepKey("exec", { prompt: "p" })).not.toBe(stepKey("spawn", { prompt: "p" }));
		expect(stepKey("spawn", { prompt: "p" })).not.toBe(stepKey("spawn", { prompt: "q" }));
		expect(stepKey("spawn", { x: [1, 2] })).not.toBe(stepKey("spawn", { x: [2, 1] }));
		expect(a).toMatch(/^[0-9a-f]{16}$/);
	});
});

describe("Journal", () => {
	const steps: [StepKind, unknown][] = [
		["spawn", { prompt: "one" }],
		["exec", { command: "ls" }],
		["check", { command: "npm test" }],
	];

	it("gives positions in call order and nothing to replay on a first run", () => {
		const file = journalFile();
		const { journal, seen } = attempt(file, steps, "first");
		expect(seen).toEqual([
			{ position: 0, replayed: undefined, diverged: undefined },
			{ position: 1, replayed: undefined, diverged: undefined },
			{ position: 2, replayed: undefined, diverged: undefined },
		]);
		expect(journal.size).toBe(0);
		expect(new Journal(file).size).toBe(3);
	});

	it("replays every recorded step of an unchanged script, then runs new steps live (diverged: not recorded)", () => {
		const file = journalFile();
		attempt(file, steps, "first");
		const { journal, seen } = attempt(file, [...steps, ["spawn", { prompt: "four" }]], "second");
		expect(journal.size).toBe(3);
		expect(seen.map((s) => s.replayed)).toEqual(["first:0", "first:1", "first:2", undefined]);
		expect(seen.map((s) => s.diverged)).toEqual([undefined, undefined, undefined, "not recorded"]);
		expect(lines(file).at(-1)).toMatchObject({ type: "step", position: 3 });
	});

	it("runs the first changed step and every later one live, even later ones that match", () => {
		const file = journalFile();
		attempt(file, steps, "first");
		const changed: [StepKind, unknown][] = [steps[0]!, ["exec", { command: "ls -l" }], steps[2]!];
		const { seen } = attempt(file, changed, "second");
		expect(seen.map((s) => s.replayed)).toEqual(["first:0", undefined, undefined]);
		expect(seen[1]?.diverged).toBe("exec step 2 was recorded with other options");
		expect(seen[2]?.diverged).toBeUndefined(); // reported once
	});

	it("treats the same options under another kind as a mismatch", () => {
		const file = journalFile();
		attempt(file, [["exec", { command: "ls" }]], "first");
		const { seen } = attempt(file, [["check", { command: "ls" }]], "second");
		expect(seen[0]).toMatchObject({ replayed: undefined, diverged: "exec step 1 was recorded with other options" });
	});

	it("drops an older attempt's steps at and after a diverged position on load", () => {
		const file = journalFile();
		attempt(file, steps, "first");
		// The second attempt diverges at position 1 and ends (crashes) before recording anything there.
		const second = new Journal(file);
		expect(second.begin(...steps[0]!).replay).toEqual({ result: "first:0" });
		expect(second.begin("exec", { command: "changed" }).diverged).toMatch(/other options/);
		// A third attempt with the original script must not replay the first attempt's steps 1 and 2.
		const { journal, seen } = attempt(file, steps, "third");
		expect(journal.size).toBe(1);
		expect(seen.map((s) => s.replayed)).toEqual(["first:0", undefined, undefined]);
	});

	it("keeps steps recorded after the diverged marker", () => {
		const file = journalFile();
		attempt(file, steps, "first");
		const changed: [StepKind, unknown][] = [steps[0]!, ["exec", { command: "ls -l" }], steps[2]!];
		attempt(file, changed, "second");
		const { seen } = attempt(file, changed, "third");
		expect(seen.map((s) => s.replayed)).toEqual(["first:0", "second:1", "second:2"]);
	});

	it("replays results recorded out of order (parallel steps finish in any order)", () => {
		const file = journalFile();
		const first = new Journal(file);
		const a = first.begin("spawn", { prompt: "a" });
		const b = first.begin("spawn", { prompt: "b" });
		first.record(b, "spawn", "B");
		first.record(a, "spawn", "A");
		const second = new Journal(file);
		expect(second.begin("spawn", { prompt: "a" }).replay).toEqual({ result: "A" });
		expect(second.begin("spawn", { prompt: "b" }).replay).toEqual({ result: "B" });
	});

	it("runs a parallel step cut off by the crash live, and still replays the ones that finished beside it", () => {
		const file = journalFile();
		const first = new Journal(file);
		const [a, b, c] = ["a", "b", "c"].map((prompt) => first.begin("spawn", { prompt })) as StepStart[];
		first.record(b, "spawn", "B"); // a was still running when the process died
		first.record(c, "spawn", "C");
		void a;
		const second = new Journal(file);
		const again = ["a", "b", "c"].map((prompt) => second.begin("spawn", { prompt }));
		expect(again.map((s) => s.replay?.result)).toEqual([undefined, "B", "C"]);
		expect(again[0]?.diverged).toBe("not recorded");
		expect(lines(file).some((l) => l.type === "diverged")).toBe(false);
	});

	it("ignores blank lines and a last line cut off by a crash", () => {
		const file = journalFile();
		attempt(file, steps.slice(0, 2), "first");
		appendFileSync(file, '\n\n{"type":"step","position":2,"kind":"che');
		const { journal, seen } = attempt(file, steps, "second");
		expect(journal.size).toBe(2);
		expect(seen.map((s) => s.replayed)).toEqual(["first:0", "first:1", undefined]);
	});

	it("keeps what it appends after a cut-off line readable (the marker is not glued onto the broken line)", () => {
		const file = journalFile();
		attempt(file, steps, "first");
		appendFileSync(file, '{"type":"step","position":3,"kind":"sp');
		// The second attempt diverges at 1 and crashes; only its diverged marker follows the cut-off line.
		const second = new Journal(file);
		second.begin(...steps[0]!);
		second.begin("exec", { command: "changed" });
		const last = readFileSync(file, "utf8").trimEnd().split("\n").at(-1) as string;
		expect(JSON.parse(last)).toMatchObject({ type: "diverged", position: 1 });
		const { seen } = attempt(file, steps, "third");
		expect(seen.map((s) => s.replayed)).toEqual(["first:0", undefined, undefined]);
	});

	it("does not write anything until a step begins", () => {
		const file = journalFile();
		new Journal(file);
		expect(() => readFileSync(file)).toThrow();
		writeFileSync(file, "");
		expect(new Journal(file).size).toBe(0);
	});
});
