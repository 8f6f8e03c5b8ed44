/**
 * Groups the writes of one assistant message so they are checked together,
 * once. pi prepares every tool call of a message (tool_call) before it runs
 * any of them in parallel; each write's tool_result waits here until the
 * last write of its batch is in, then all get the one check's answer. Calls
 * run sequentially simply form batches of one.
 */

export type BatchCheck<T> = (files: string[]) => Promise<Map<string, T>>;

interface Waiter<T> {
	resolve: (found: Map<string, T>) => void;
	reject: (error: unknown) => void;
}

export class WriteBatcher<T> {
	private expected = new Set<string>();
	private arrived = new Map<string, string | undefined>();
	private waiters: Waiter<T>[] = [];

	constructor(private readonly check: BatchCheck<T>) {}

	/** A write/edit call that was allowed to run (tool_call). */
	expect(toolCallId: string): void {
		this.expected.add(toolCallId);
	}

	/** A call that will not report a result here after all (blocked later, failed before running). */
	drop(toolCallId: string): void {
		if (!this.expected.delete(toolCallId) || this.arrived.has(toolCallId)) return;
		this.flushIfComplete();
	}

	/**
	 * The call's result (tool_result): `file` when it succeeded, undefined
	 * when it failed. Resolves with the whole batch's findings by file.
	 */
	arrive(toolCallId: string, file: string | undefined): Promise<Map<string, T>> {
		this.expected.add(toolCallId);
		this.arrived.set(toolCallId, file);
		const answer = new Promise<Map<string, T>>((resolve, reject) => this.waiters.push({ resolve, reject }));
		this.flushIfComplete();
		return answer;
	}

	private flushIfComplete(): void {
		if (this.waiters.length === 0 || [...this.expected].some((id) => !this.arrived.has(id))) return;
		const files = [...new Set([...this.arrived.values()].filter((f): f is string => f !== undefined))];
		const waiters = this.waiters;
		this.expected = new Set();
		this.arrived = new Map();
		this.waiters = [];
		const run = files.length > 0 ? this.check(files) : Promise.resolve(new Map<string, T>());
		run.then(
			(found) => {
				for (const w of waiters) w.resolve(found);
			},
			(error) => {
				for (const w of waiters) w.reject(error);
			},
		);
	}
}
