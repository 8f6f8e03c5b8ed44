/** Unit tests: the writes of one assistant message are checked together, once (write-batch.ts). */
import { describe, expect, it } from "vitest";
import { WriteBatcher } from "../../extensions/gates/write-batch.ts";

/**
 * A batcher whose check records its calls and answers each file with its own
 * name upper-cased (or rejects with `fail`), with the `expected` calls announced.
 */
function recording(expected: string[] = [], fail?: Error) {
	const calls: string[][] = [];
	const batcher = new WriteBatcher<string>(async (files) => {
		calls.push(files);
		if (fail) throw fail;
		return new Map(files.map((f) => [f, f.toUpperCase()]));
	});
	for (const id of expected) batcher.expect(id);
	return { batcher, calls };
}

/** Whether the promise has settled after pending microtasks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
	let done = false;
	promise.then(
		() => (done = true),
		() => (done = true),
	);
	await new Promise((resolve) => setTimeout(resolve, 0));
	return done;
}

describe("WriteBatcher", () => {
	it("checks two writes of one message once, after both arrived, and gives both the same answer", async () => {
		const { batcher, calls } = recording(["call-1", "call-2"]);
		const first = batcher.arrive("call-1", "a.ts");
		expect(await settled(first)).toBe(false);
		expect(calls).toEqual([]);
		const second = batcher.arrive("call-2", "b.ts");
		const [one, two] = await Promise.all([first, second]);
		expect(calls).toEqual([["a.ts", "b.ts"]]);
		expect(one).toBe(two);
		expect([...one]).toEqual([
			["a.ts", "A.TS"],
			["b.ts", "B.TS"],
		]);
	});
	it("sequential calls form batches of one", async () => {
		const { batcher, calls } = recording(["call-1"]);
		const first = await batcher.arrive("call-1", "a.ts");
		batcher.expect("call-2");
		const second = await batcher.arrive("call-2", "b.ts");
		expect(calls).toEqual([["a.ts"], ["b.ts"]]);
		expect([...first.keys()]).toEqual(["a.ts"]);
		expect([...second.keys()]).toEqual(["b.ts"]);
	});
	it("a call that arrives without having been expected is its own batch", async () => {
		const { batcher, calls } = recording();
		await batcher.arrive("call-1", "a.ts");
		expect(calls).toEqual([["a.ts"]]);
	});
	it("leaves a failed call's file out", async () => {
		const { batcher, calls } = recording(["call-1", "call-2"]);
		const failed = batcher.arrive("call-1", undefined);
		const ok = batcher.arrive("call-2", "b.ts");
		expect(await failed).toBe(await ok);
		expect(calls).toEqual([["b.ts"]]);
	});
	it("checks a file written twice in one batch once", async () => {
		const { batcher, calls } = recording(["call-1", "call-2"]);
		await Promise.all([batcher.arrive("call-1", "a.ts"), batcher.arrive("call-2", "a.ts")]);
		expect(calls).toEqual([["a.ts"]]);
	});
	it("drop() of an expected call that never arrives lets the batch complete", async () => {
		const { batcher, calls } = recording(["call-1", "call-2"]);
		const first = batcher.arrive("call-1", "a.ts");
		expect(await settled(first)).toBe(false);
		batcher.drop("call-2");
		expect([...(await first).keys()]).toEqual(["a.ts"]);
		expect(calls).toEqual([["a.ts"]]);
	});
	it("drop() before anything arrived only shrinks the batch", async () => {
		const { batcher, calls } = recording(["call-1", "call-2"]);
		batcher.drop("call-2");
		batcher.drop("unknown");
		expect(calls).toEqual([]);
		await batcher.arrive("call-1", "a.ts");
		expect(calls).toEqual([["a.ts"]]);
	});
	it("does not call the check when every call of the batch failed", async () => {
		const { batcher, calls } = recording(["call-1", "call-2"]);
		const results = await Promise.all([batcher.arrive("call-1", undefined), batcher.arrive("call-2", undefined)]);
		expect(calls).toEqual([]);
		expect(results[0]?.size).toBe(0);
		expect(results[0]).toBe(results[1]);
	});
	it("a rejected check rejects every waiter of the batch, and the next batch starts clean", async () => {
		const error = new Error("server crashed");
		const { batcher, calls } = recording(["call-1", "call-2"], error);
		const first = batcher.arrive("call-1", "a.ts");
		const second = batcher.arrive("call-2", "b.ts");
		await expect(first).rejects.toBe(error);
		await expect(second).rejects.toBe(error);
		batcher.expect("call-3");
		await expect(batcher.arrive("call-3", "c.ts")).rejects.toBe(error);
		expect(calls).toEqual([["a.ts", "b.ts"], ["c.ts"]]);
	});
});
