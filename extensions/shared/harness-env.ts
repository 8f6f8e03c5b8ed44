/**
 * Environment variables only the harness's own processes get (its git and gh calls), not the agents' tools: the
 * secrets `/loop issues` takes out of process.env while agents work. Process-wide (every module instance).
 */
import { processWide } from "./process-wide.ts";

/** The variables, mutated in place (callers read them at call time). */
export function harnessEnv(): NodeJS.ProcessEnv {
	return processWide("harness-env", () => ({}) as NodeJS.ProcessEnv);
}
