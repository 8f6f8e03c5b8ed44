/**
 * A blueprint run's limits: spawns and dollars (the time limit is the run's
 * AbortSignal). A spawn past either is refused with a BudgetError, which ends
 * the run with reason "budget". Pure.
 */
import type { Budget } from "./factory-api.ts";

export class BudgetError extends Error {
	override name = "BudgetError";
}

export interface BudgetLimits {
	maxSpawns: number;
	/** Dollars; undefined = no cost limit. */
	maxCost?: number;
}

export class RunBudget {
	private spawns = 0;
	private spent = 0;
	/** The limit a refused spawn hit (the run then ends "budget", even if the script caught the error). */
	exceeded: string | undefined;

	constructor(private readonly limits: BudgetLimits) {}

	/** Counts one more spawn, or throws when the run may not start another. */
	reserveSpawn(): void {
		const max = this.limits.maxCost;
		if (this.spawns >= this.limits.maxSpawns)
			this.exceeded = `--max-spawns ${this.limits.maxSpawns} reached: no more agent spawns in this run`;
		else if (max !== undefined && this.spent >= max)
			this.exceeded = `--max-cost $${max} reached: $${this.spent.toFixed(4)} spent`;
		else {
			this.spawns++;
			return;
		}
		throw new BudgetError(this.exceeded);
	}

	/** What earlier attempts of a resumed run spent live (replayed spawns are part of it, not charged again). */
	carryOver(spawns: number, cost: number): void {
		this.spawns += spawns;
		this.spent += cost;
	}

	charge(cost: number): void {
		this.spent += cost;
	}

	view(): Budget {
		const max = this.limits.maxCost;
		return {
			spent: this.spent,
			remaining: max === undefined ? Number.POSITIVE_INFINITY : Math.max(0, max - this.spent),
			spawns: this.spawns,
			spawnsRemaining: Math.max(0, this.limits.maxSpawns - this.spawns),
		};
	}
}
