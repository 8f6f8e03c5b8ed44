/**
 * Interactive pi in a real terminal: starts pi (with this package and the
 * scripted model) in a detached tmux session and reads its screen.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { type Fixture, piArgs, piCommand } from "./harness.ts";

export const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
let session: string | undefined;

export function tmux(...args: string[]): string {
	return execFileSync("tmux", args, { encoding: "utf8" });
}

/** Starts interactive pi in the fixture's project; returns the tmux session name. */
export function startInteractive(fx: Fixture): string {
	const name = `pi-loop-${process.pid}-${Date.now()}`;
	const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
	const env = Object.entries(fx.env)
		.filter(([k, v]) => v !== undefined && /^(HOME|PATH|PI_|LOOP_|GIT_)/.test(k))
		.map(([k, v]) => `${k}=${quote(String(v))}`)
		.join(" ");
	const [pi, args] = piCommand(piArgs([]));
	const command = `cd ${quote(fx.project)} && env ${env} ${[pi, ...args].map(quote).join(" ")}`;
	tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50", command);
	session = name;
	return name;
}

export const screen = (name: string) => tmux("capture-pane", "-t", name, "-p");

/** Ends the session started last (for afterEach). */
export function stopInteractive(): void {
	if (session) spawnSync("tmux", ["kill-session", "-t", session]);
	session = undefined;
}
