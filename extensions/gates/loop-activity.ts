/**
 * Loops running in this pi process, per project, as the loop told the gates
 * through the "gates" service. Inside a loop the loop's own checks decide
 * "done", so the on-done gates stay quiet, and a turn-end gate that would
 * run the loop's very check command is left to the loop.
 */
import { processWide } from "../shared/process-wide.ts";

/** Per project: the running loop's check command ("" for a blueprint run, which has none of its own). */
const running = () => processWide("loop-activity", () => new Map<string, string>());

export function loopStarted(cwd: string, check: string | undefined): () => void {
	running().set(cwd, check ?? "");
	return () => running().delete(cwd);
}

/** The running loop's check command for `cwd` ("" when it has none), or undefined when no loop runs there. */
export function runningLoopCheck(cwd: string): string | undefined {
	return running().get(cwd);
}
