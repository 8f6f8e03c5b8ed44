/**
 * Services one extension of this package offers the others in the same pi
 * process, found by name instead of through files or shared strings. An
 * extension provides its service when pi loads it (again for every session;
 * the latest wins); a caller that finds none can say which extension is off.
 */
import { processWide } from "./process-wide.ts";

export interface Services {
	/** The hydrate extension: add context from specs to one exact prompt of a loop iteration. */
	hydration: {
		request(cwd: string, prompt: string, task: string, failures?: string): void;
		/** The hydration block for a task, within `budget` tokens (default: the configured budget). */
		block(cwd: string, task: string, budget?: number): Promise<string>;
	};
	/**
	 * The gates extension: a loop says it runs in a project (and its check command), so on-done gates leave
	 * "done" to the loop; the returned function says it has ended.
	 */
	gates: {
		loopStarted(cwd: string, check: string | undefined): () => void;
		/**
		 * A blueprint spawn with `gates: "all"`: the on-done gates on the files it changed (paths relative to cwd);
		 * `fix` is the fix round to send into its session while rounds are left (`round` = rounds sent so far).
		 */
		checkDone(
			cwd: string,
			changed: string[],
			round: number,
			signal?: AbortSignal,
		): Promise<{ marks: string; fix?: string; stopped?: string }>;
		/** A directory's gates are no longer needed (an isolated spawn's worktree): their servers stop. */
		release(cwd: string): Promise<void>;
	};
}

const registry = () => processWide("services", () => new Map<keyof Services, Services[keyof Services]>());

export function provideService<K extends keyof Services>(name: K, service: Services[K]): void {
	registry().set(name, service);
}

/** The service, or undefined when the extension providing it is not loaded in this pi process. */
export function findService<K extends keyof Services>(name: K): Services[K] | undefined {
	return registry().get(name) as Services[K] | undefined;
}
