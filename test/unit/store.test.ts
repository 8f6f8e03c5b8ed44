/** Unit tests: state store (atomic writes, corrupt files), control requests and the lock. */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isProcessAlive, processStatus } from "../../extensions/core/process-liveness.ts";
import { acquireLock, LockError } from "../../extensions/loop/lock.ts";
import {
	appendEvent,
	clearControl,
	ensureLoopDir,
	ensureRunDir,
	loopPaths,
	readControl,
	readState,
	requestControl,
	StateError,
	saveState,
} from "../../extensions/loop/store.ts";
import type { LoopState } from "../../extensions/loop/types.ts";
import { DEFAULT_OPTIONS } from "../../extensions/loop/types.ts";
import { waitFor } from "../support/harness.ts";

function setup() {
	const paths = loopPaths(mkdtempSync(join(tmpdir(), "pi-loop-store-")));
	ensureLoopDir(paths);
	return paths;
}

const state = (runId = "run-1"): LoopState => ({
	version: 1,
	runId,
	preset: "until",
	check: "true",
	checkSource: "test",
	goal: "g",
	options: DEFAULT_OPTIONS,
	status: "running",
	startedAt: "2026-01-01T00:00:00Z",
	elapsedMs: 0,
	checks: [],
	history: [],
	pid: 1,
});

describe("state store", () => {
	it("round-trips state and keeps a copy in the run folder", () => {
		const paths = setup();
		ensureRunDir(paths, "run-1");
		saveState(paths, state());
		expect(readState(paths)).toEqual(state());
		expect(JSON.parse(readFileSync(join(paths.runs, "run-1", "state.json"), "utf8")).runId).toBe("run-1");
		expect(readdirSync(paths.root).filter((f) => f.includes(".tmp"))).toEqual([]);
		expect(readFileSync(join(paths.root, ".gitignore"), "utf8")).toBe("*\n");
	});
	it("returns undefined when there is no state", () => {
		expect(readState(setup())).toBeUndefined();
	});
	it.each([
		["{ broken", /invalid JSON/],
		['{"version": 1}', /not a loop state/],
	])("moves a corrupt file aside: %s", (content, why) => {
		const paths = setup();
		writeFileSync(paths.state, content);
		expect(() => readState(paths)).toThrow(StateError);
		const aside = readdirSync(paths.root).filter((f) => f.startsWith("state.json.corrupt-"));
		expect(aside).toHaveLength(1);
		expect(readFileSync(join(paths.root, aside[0] as string), "utf8")).toBe(content);
		expect(existsSync(paths.state)).toBe(false);
		writeFileSync(paths.state, content);
		expect(() => readState(paths)).toThrow(why);
	});
	it("appends events as JSON lines with a timestamp", () => {
		const paths = setup();
		ensureRunDir(paths, "r");
		appendEvent(paths, "r", { type: "check", exitCode: 1, durationMs: 5, timedOut: false, fingerprint: "f" });
		appendEvent(paths, "r", { type: "run_end", reason: "passed", detail: "passed after 1 iteration", iterations: 1 });
		const lines = readFileSync(join(paths.runs, "r", "events.jsonl"), "utf8")
			.trim()
			.split("\n")
			.map((l) => JSON.parse(l));
		expect(lines.map((l) => l.type)).toEqual(["check", "run_end"]);
		expect(typeof lines[0].ts).toBe("string");
	});
	it("control requests are per run and abort is never downgraded to stop", () => {
		const paths = setup();
		requestControl(paths, "r", "stop");
		expect(readControl(paths, "r")).toBe("stop");
		expect(readControl(paths, "other")).toBeUndefined();
		requestControl(paths, "r", "abort");
		requestControl(paths, "r", "stop");
		expect(readControl(paths, "r")).toBe("abort");
		clearControl(paths);
		expect(readControl(paths, "r")).toBeUndefined();
	});
});

describe("lock", () => {
	it("admits one holder and names it to the next", () => {
		const paths = setup();
		const lock = acquireLock(paths.lock, "a");
		expect(() => acquireLock(paths.lock, "b")).toThrow(LockError);
		expect(() => acquireLock(paths.lock, "b")).toThrow(new RegExp(`run a, pid ${process.pid} on ${hostname()}`));
		lock.release();
		acquireLock(paths.lock, "b").release();
		expect(existsSync(paths.lock)).toBe(false);
	});
	it("takes over the lock of a dead process", async () => {
		const paths = setup();
		const child = spawn("true");
		await new Promise((r) => child.on("close", r));
		writeFileSync(paths.lock, JSON.stringify({ pid: child.pid, host: hostname(), runId: "old", since: "x" }));
		const lock = acquireLock(paths.lock, "new");
		expect(lock.tookOver).toMatchObject({ runId: "old" });
		lock.release();
	});
	it("takes over the lock of a zombie process", async () => {
		const paths = setup();
		// `sleep 0.1` becomes a child of `sleep 30`, which never reaps it: a real zombie.
		const parent = spawn("sh", ["-c", "sleep 0.1 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
		try {
			const pid = Number(await new Promise<string>((r) => parent.stdout.once("data", (d: Buffer) => r(d.toString()))));
			await waitFor(() => processStatus(pid)?.zombie === true, 5000, "the zombie");
			expect(isProcessAlive(pid)).toBe(true); // signal 0 still reaches a zombie
			writeFileSync(paths.lock, JSON.stringify({ pid, host: hostname(), runId: "zombie", since: "x" }));
			const lock = acquireLock(paths.lock, "new");
			expect(lock.tookOver).toMatchObject({ runId: "zombie" });
			lock.release();
		} finally {
			parent.kill("SIGKILL");
		}
	});
	it("takes over a lock whose pid now belongs to a process that started later", () => {
		const paths = setup();
		const live = spawn("sleep", ["30"]);
		try {
			const pid = live.pid as number;
			const started = processStatus(pid)?.started;
			expect(started).toMatch(/\S/);
			const holder = { pid, host: hostname(), since: "x" };
			// The recorded stamp is this process's: the holder is alive and keeps the lock.
			writeFileSync(paths.lock, JSON.stringify({ ...holder, runId: "same", started }));
			expect(() => acquireLock(paths.lock, "new")).toThrow(/run same/);
			// Another stamp: the pid was reused after the holder died.
			writeFileSync(paths.lock, JSON.stringify({ ...holder, runId: "reused", started: `${started}-earlier` }));
			const lock = acquireLock(paths.lock, "new");
			expect(lock.tookOver).toMatchObject({ runId: "reused" });
			expect(JSON.parse(readFileSync(paths.lock, "utf8")).started).toBe(processStatus(process.pid)?.started);
			lock.release();
		} finally {
			live.kill("SIGKILL");
		}
	});
	it("treats an unreadable lock file as stale", () => {
		const paths = setup();
		writeFileSync(paths.lock, "garbage");
		const lock = acquireLock(paths.lock, "new");
		expect(JSON.parse(readFileSync(paths.lock, "utf8")).runId).toBe("new");
		lock.release();
	});
});
