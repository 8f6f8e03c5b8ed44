// A sandbox for running the real pi CLI with the scripted model: isolated
// HOME and agent dir, no network, the script and request log, and a git
// project with one commit. Shared by the test harness, the demo and the bench.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Creates <tmp>/{project,agent,home}; returns the paths and the environment for pi. */
export function createSandbox(prefix) {
	const root = mkdtempSync(join(tmpdir(), prefix));
	const project = join(root, "project");
	const agentDir = join(root, "agent");
	for (const dir of [project, agentDir, join(root, "home")]) mkdirSync(dir, { recursive: true });
	const env = {
		...process.env,
		HOME: join(root, "home"),
		PI_CODING_AGENT_DIR: agentDir,
		PI_OFFLINE: "1",
		PI_SKIP_VERSION_CHECK: "1",
		LOOP_FAUX_KEY: "scripted",
		LOOP_FAUX_SCRIPT: join(root, "script.json"),
		LOOP_FAUX_LOG: join(root, "requests.jsonl"),
		GIT_AUTHOR_NAME: "Loop Sandbox",
		GIT_AUTHOR_EMAIL: "loop@sandbox.invalid",
		GIT_COMMITTER_NAME: "Loop Sandbox",
		GIT_COMMITTER_EMAIL: "loop@sandbox.invalid",
	};
	return { root, project, agentDir, env };
}

/** git init + commit everything in the project. */
export function commitAll(project, env, message = "initial") {
	for (const args of [
		["init", "-q"],
		["add", "-A"],
		["commit", "-qm", message],
	])
		execFileSync("git", args, { cwd: project, env, stdio: "ignore" });
}
