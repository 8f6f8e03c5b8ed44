// Shared by the blueprint benchmarks: a sandboxed git project with a scripted model, the real pi CLI run in it
// (wall time measured), and JSONL files read back (events, request logs).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commitAll, createSandbox } from "../test/support/sandbox.mjs";

/** A committed project with README.md (plus `prepare(project, env)`'s files) and the scripted model's script. */
export function benchProject(repo, name, script, prepare = () => undefined) {
	const { root, project, env } = createSandbox(`pi-loop-bench-${name}-`);
	writeFileSync(join(project, "README.md"), "bench\n");
	prepare({ root, project, env });
	writeFileSync(env.LOOP_FAUX_SCRIPT, JSON.stringify(script));
	commitAll(project, env);
	return {
		root,
		project,
		env,
		logPath: env.LOOP_FAUX_LOG,
		pi: join(repo, "node_modules", ".bin", "pi"),
		base: ["-e", repo, "-e", join(repo, "test", "support", "scripted-model.ts"), "--model", "faux/faux-1"],
	};
}

/** `pi <base> <args>` in the project, to its end: the process result and its wall time. */
export function runPi(fx, args) {
	const start = process.hrtime.bigint();
	const run = spawnSync(fx.pi, [...fx.base, ...args], { cwd: fx.project, env: fx.env, encoding: "utf8" });
	return { run, wallMs: Number(process.hrtime.bigint() - start) / 1e6 };
}

export function jsonLines(path) {
	if (!existsSync(path)) return [];
	return readFileSync(path, "utf8")
		.split("\n")
		.filter((l) => l.trim() !== "")
		.map((l) => JSON.parse(l));
}
