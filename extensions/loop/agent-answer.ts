/**
 * What an agent's final answer says, for the record: whether it carries the
 * run's promise tag, and a one-line summary of it. Pure.
 */

/** Whether the agent's final text carries the required promise tag. */
export function hasPromise(text: string, promise: string): boolean {
	return text.includes(`<promise>${promise}</promise>`);
}

/** The first ~200 characters of the agent's final text, on one line. */
export function summarize(text: string, max = 200): string {
	const flat = text.replace(/\s+/g, " ").trim();
	return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
