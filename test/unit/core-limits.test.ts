/**
 * Unit tests: a blueprint run's limits — RunBudget (max spawns, max cost, `exceeded`, replayed spawns counted)
 * and the Limiter (at most N tasks at a time, the rest in call order).
 */
import { describe, expect, it } from "vitest";
import { BudgetError, RunBudget } from "../../extensions/core/budget.ts";
import { Limiter } from "../../extensions/core/limiter.ts";

describe("RunBudget", () => {
	it("counts spawns up to --max-spawns, then refuses with a BudgetError and says which limit", () => {
		const budget = new RunBudget({ maxSpawns: 2 });
		budget.reserveSpawn();
		budget.reserveSpawn();
		expect(budget.exceeded).toBeUndefined();
		expect(() => budget.reserveSpawn()).toThrow(BudgetError);
		expect(budget.exceeded).toBe("--max-spawns 2 reached: no more agent spawns in this run");
		expect(() => budget.reserveSpawn()).toThrow("--max-spawns 2 reached");
		expect(budget.view()).toEqual({ spent: 0, remaining: Number.POSITIVE_INFINITY, spawns: 2, spawnsRemaining: 0 });
	});

	it("refuses a spawn once the money spent reaches --max-cost (the spawn that crossed it was allowed)", () => {
		const budget = new RunBudget({ maxSpawns: 10, maxCost: 1 });
		budget.reserveSpawn();
		budget.charge(0.5);
		budget.reserveSpawn();
		budget.charge(0.75);
		expect(budget.view()).toMatchObject({ spent: 1.25, remaining: 0, spawns: 2, spawnsRemaining: 8 });
		let refused: unknown;
		try {
			budget.reserveSpawn();
		} catch (error) {
			refused = error;
		}
		expect(refused).toBeInstanceOf(BudgetError);
		expect((refused as Error).name).toBe("BudgetError");
		expect(budget.exceeded).toBe("--max-cost $1 reached: $1.2500 spent");
		expect(budget.view().spawns).toBe(2);
	});

	it("refuses at exactly the cost limit, and allows just under it", () => {
		const under = new RunBudget({ maxSpawns: 10, maxCost: 0.5 });
		under.charge(0.49);
		expect(() => under.reserveSpawn()).not.toThrow();
		expect(under.view().remaining).toBeCloseTo(0.01);
		const at = new RunBudget({ maxSpawns: 10, maxCost: 0.5 });
		at.charge(0.5);
		expect(() => at.reserveSpawn()).toThrow(BudgetError);
	});

	it("carries over what earlier attempts spent without refusing it, then refuses the next spawn", () => {
		const budget = new RunBudget({ maxSpawns: 2, maxCost: 1 });
		budget.carryOver(3, 0.25); // a resumed run: those spawns were allowed when they ran
		expect(budget.exceeded).toBeUndefined();
		expect(budget.view()).toMatchObject({ spawns: 3, spawnsRemaining: 0, spent: 0.25, remaining: 0.75 });
		expect(() => budget.reserveSpawn()).toThrow(BudgetError);
		expect(budget.exceeded).toContain("--max-spawns 2 reached");
	});

	it("has no cost limit without maxCost", () => {
		const budget = new RunBudget({ maxSpawns: 5 });
		budget.charge(1e6);
		expect(() => budget.reserveSpawn()).not.toThrow();
		expect(budget.view().remaining).toBe(Number.POSITIVE_INFINITY);
	});
});

/** A task that runs until `release()` is called; counts how many run at once. */
function gate() {
	let running = 0;
	let most = 0;
	const started: string[] = [];
	const releases = new Map<string, () => void>();
	const task =
		(name: string, fail = false) =>
		async () => {
			running++;
			most = Math.max(most, running);
			started.push(name);
			await new Promise<void>((resolve) => releases.set(name, resolve));
			running--;
			if (fail) throw new Error(`${name} failed`);
			return name;
		};
	const release = async (name: string) => {
		const done = releases.get(name);
		if (!done) throw new Error(`${name} has not started`);
		done();
		await new Promise((resolve) => setTimeout(resolve, 0));
	};
	return { task, release, started, most: () => most, running: () => running };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("Limiter", () => {
	it("runs at most N tasks at once and starts the waiting ones in call order", async () => {
		const g = gate();
		const limiter = new Limiter(2);
		const all = Promise.all(["a", "b", "c", "d"].map((n) => limiter.run(g.task(n))));
		await tick();
		expect(g.started).toEqual(["a", "b"]);
		await g.release("b");
		expect(g.started).toEqual(["a", "b", "c"]);
		await g.release("a");
		expect(g.started).toEqual(["a", "b", "c", "d"]);
		await g.release("c");
		await g.release("d");
		await expect(all).resolves.toEqual(["a", "b", "c", "d"]);
		expect(g.most()).toBe(2);
	});

	it("frees the slot of a task that throws, and passes the error on", async () => {
		const g = gate();
		const limiter = new Limiter(1);
		const failing = limiter.run(g.task("a", true)).catch((error: Error) => error.message);
		const next = limiter.run(g.task("b"));
		await tick();
		expect(g.started).toEqual(["a"]);
		await g.release("a");
		await expect(failing).resolves.toBe("a failed");
		expect(g.started).toEqual(["a", "b"]);
		await g.release("b");
		await expect(next).resolves.toBe("b");
	});

	it("hands a freed slot to the first waiter, not to a task asked for in between", async () => {
		const g = gate();
		const limiter = new Limiter(1);
		let finishFirst: () => void = () => undefined;
		const first = new Promise<void>((resolve) => {
			finishFirst = resolve;
		});
		const results = [limiter.run(() => first), limiter.run(g.task("b"))];
		// Asked for in the same microtask turn in which "a" finishes, before "b" has been woken up.
		const late = first.then(() => limiter.run(g.task("c")));
		finishFirst();
		await tick();
		expect(g.started).toEqual(["b"]);
		expect(g.running()).toBe(1);
		await g.release("b");
		expect(g.started).toEqual(["b", "c"]);
		await g.release("c");
		await expect(Promise.all([...results, late])).resolves.toEqual([undefined, "b", "c"]);
		expect(g.most()).toBe(1);
	});
});
