// npm run demo: a real `/loop tests` through the real pi CLI, on a copy of
// demo/sample, with a SCRIPTED model (no API key, no network). The model's
// three answers are fixed in advance below; everything else — pi, the loop
// engine, the checks, git, the state files — is the real thing.
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { commitAll, createSandbox } from "../test/support/sandbox.mjs";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { root, project, env } = createSandbox("pi-loop-demo-");
cpSync(join(repo, "demo", "sample"), project, { recursive: true });

const fix = (body) => `// Turns a title into a URL slug.\nexport function slugify(title) {\n${body}\n}\n`;
const script = {
	steps: [
		{ write: { path: "slugify.js", content: fix('\treturn title.toLowerCase().replace(/[^a-z0-9 ]/g, "");') } },
		{ text: "Lowercased the output. Spaces are still not turned into dashes." },
		{
			write: {
				path: "slugify.js",
				content: fix('\treturn title.toLowerCase().replace(/[^a-z0-9 ]/g, "").replace(/ /g, "-");'),
			},
		},
		{ text: "Spaces become dashes now. Leading/trailing spaces and runs of separators remain." },
		{
			write: {
				path: "slugify.js",
				content: fix(
					'\treturn title\n\t\t.toLowerCase()\n\t\t.replace(/[^a-z0-9]+/g, "-")\n\t\t.replace(/^-+|-+$/g, "");',
				),
			},
		},
		{ text: "Collapsed separator runs into one dash and trimmed dashes at both ends." },
	],
	costPerCall: 0.004,
};
writeFileSync(join(root, "script.json"), JSON.stringify(script));

commitAll(project, env, "sample with three bugs");

const pi = join(repo, "node_modules", ".bin", "pi");
const args = [
	"-e",
	repo,
	"-e",
	join(repo, "test", "support", "scripted-model.ts"),
	"--model",
	"faux/faux-1",
	"-p",
	"/loop tests --max 5",
];
console.log("pi-loop-factory demo — the model is SCRIPTED (three canned answers), everything else is real.");
console.log(`project: ${project}`);
console.log('$ pi -e <this checkout> -e test/support/scripted-model.ts --model faux/faux-1 -p "/loop tests --max 5"\n');
const run = spawnSync(pi, args, { cwd: project, env, stdio: ["ignore", "inherit", "inherit"] });

const state = JSON.parse(readFileSync(join(project, ".pi", "loop", "state.json"), "utf8"));
console.log(`\n--- ${join(".pi", "loop", "runs", state.runId, "report.md")} ---\n`);
console.log(readFileSync(join(project, ".pi", "loop", "runs", state.runId, "report.md"), "utf8"));
console.log(`--- slugify.js after the loop ---\n${readFileSync(join(project, "slugify.js"), "utf8")}`);
console.log(`pi exited with ${run.status} (0 = the loop ended passed)`);
process.exit(run.status === 0 && state.reason === "passed" ? 0 : 1);
