/**
 * Whether a /loop run is driving this pi process for a project, and which
 * check command it runs. Gates read it: inside loop iterations the loop's own
 * check decides "done", so the on-done gates stay quiet.
 */
import { processWide } from "./process-wide.ts";

const running = () => processWide("loop-activity", () => new Map<string, string>());

export function markLoopRunning(cwd: string, check: string): () => void {
	running().set(cwd, check);
	return () => running().delete(cwd);
}

/** The running loop's check command for `cwd`, or undefined when no loop runs there. */
export function runningLoopCheck(cwd: string): string | undefined {
	return running().get(cwd);
}
