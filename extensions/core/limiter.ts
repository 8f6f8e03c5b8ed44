/**
 * At most N tasks at a time; the rest wait in call order. Used for the
 * blueprint run's --concurrency over agent spawns.
 */
export class Limiter {
	private active = 0;
	private readonly waiting: (() => void)[] = [];

	constructor(private readonly limit: number) {}

	async run<T>(task: () => Promise<T>): Promise<T> {
		// A freed slot passes straight to the first waiter, so a task asked for before it wakes cannot take it.
		if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
		else this.active++;
		try {
			return await task();
		} finally {
			const next = this.waiting.shift();
			if (next) next();
			else this.active--;
		}
	}
}
