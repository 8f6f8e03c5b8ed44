// npm run test:pi-latest: the end-to-end suite (test/e2e) against the current pi line,
// @earendil-works/pi-coding-agent 1.6.x, on a node that pi accepts (>= 22.19): the machine's when new enough, else
// node 22 from the registry package node-<platform>-<arch>@22. Both are installed (npm install --prefix, nothing
// global) once into ${XDG_CACHE_HOME:-~/.cache}/pi-loop-factory/pi-latest/<pi|node>-<version>, keyed by the resolved
// version so a new release installs anew. Offline, the newest cached versions are used; with no usable pi or node it
// says why and skips (exit 0). The type check and unit tests stay on the machine's node and pi 0.73.1 (npm test).
// Env: PI_LATEST_CACHE (cache folder), PI_LATEST_RANGE (default 1.6.x); extra arguments go to vitest.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PI_PACKAGE = "@earendil-works/pi-coding-agent";
const PI_RANGE = process.env.PI_LATEST_RANGE || "1.6.x";
const NODE_MIN = [22, 19, 0];
const NODE_PACKAGE = `node-${process.platform}-${process.arch}`;
const CACHE =
	process.env.PI_LATEST_CACHE ||
	join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "pi-loop-factory", "pi-latest");

const log = (line) => console.error(`[pi-latest] ${line}`);

/** Exit 0 with a reason: this machine cannot run the suite on the current pi line. */
function skip(reason) {
	log(`SKIPPED: ${reason}`);
	process.exit(0);
}

const parse = (v) => v.replace(/^v/, "").split(".").map(Number);
function atLeast(version, min) {
	const v = parse(version);
	for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i] > min[i];
	return true;
}

const newest = (versions) => versions.sort((a, b) => (atLeast(a, parse(b)) ? 1 : -1)).at(-1);

/** Versions of <CACHE>/<key>-<version> folders installed completely, within a "1.6.x" or "22" range. */
function cachedVersions(key, range) {
	const prefix = `${key}-${range.replace(/\.x$/, "")}.`;
	if (!existsSync(CACHE)) return [];
	return readdirSync(CACHE)
		.filter((d) => d.startsWith(prefix) && existsSync(join(CACHE, d, ".complete")))
		.map((d) => d.slice(key.length + 1));
}

/** The newest version of `name` within `range` in the registry, else (offline) in the cache, else undefined. */
function resolveVersion(name, range, key) {
	const r = spawnSync("npm", ["view", `${name}@${range}`, "version", "--json"], { encoding: "utf8" });
	const found = r.status === 0 ? [JSON.parse(r.stdout || "null")].flat().filter(Boolean) : [];
	if (found.length > 0) return newest(found);
	const cached = newest(cachedVersions(key, range));
	if (cached) log(`${name}@${range} not in the registry (offline?): using the cached ${cached}`);
	return cached;
}

/** `npm install name@version` into <CACHE>/<key> unless already there; returns that folder. */
function install(key, spec) {
	const dir = join(CACHE, key);
	if (existsSync(join(dir, ".complete"))) return { dir, fresh: false };
	mkdirSync(CACHE, { recursive: true });
	// Install beside the target and rename into place, so a killed or concurrent run never leaves half a folder.
	const tmp = `${dir}.tmp-${process.pid}`;
	rmSync(tmp, { recursive: true, force: true });
	mkdirSync(tmp, { recursive: true });
	writeFileSync(join(tmp, "package.json"), JSON.stringify({ private: true, name: "pi-latest-cache" }));
	log(`installing ${spec} into ${dir}`);
	const args = ["install", "--prefix", tmp, "--no-save", "--no-audit", "--no-fund", "--omit=dev", spec];
	execFileSync("npm", args, { stdio: ["ignore", "inherit", "inherit"] });
	writeFileSync(join(tmp, ".complete"), `${spec}\n`);
	try {
		renameSync(tmp, dir);
	} catch {
		rmSync(tmp, { recursive: true, force: true }); // another run finished first
	}
	return { dir, fresh: true };
}

/** A node >= 22.19 to run pi with: this one, else the registry's node package in the cache. */
function chooseNode() {
	if (atLeast(process.version, NODE_MIN)) return process.execPath;
	const version = resolveVersion(NODE_PACKAGE, "22", "node");
	if (!version) skip(`node ${process.version} is older than 22.19; ${NODE_PACKAGE}@22 is not in the registry or cache`);
	if (!atLeast(version, NODE_MIN)) skip(`node ${process.version} is too old and ${NODE_PACKAGE}@22 gives ${version}`);
	const { dir } = install(`node-${version}`, `${NODE_PACKAGE}@${version}`);
	const bin = join(dir, "node_modules", NODE_PACKAGE, "bin", "node");
	const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
	if (r.status !== 0 || !atLeast(r.stdout.trim(), NODE_MIN)) skip(`${bin} does not run as node >= 22.19`);
	return bin;
}

const started = Date.now();
const piVersion = resolveVersion(PI_PACKAGE, PI_RANGE, "pi");
if (!piVersion) skip(`${PI_PACKAGE}@${PI_RANGE} is neither in the registry nor cached in ${CACHE}`);
const node = chooseNode();
const pi = install(`pi-${piVersion}`, `${PI_PACKAGE}@${piVersion}`);
const piCli = join(pi.dir, "node_modules", ...PI_PACKAGE.split("/"));
const piBin = join(piCli, JSON.parse(readFileSync(join(piCli, "package.json"), "utf8")).bin.pi);
const nodeVersion = execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
const setup = ((Date.now() - started) / 1000).toFixed(1);
log(`pi ${piVersion} (${piBin}) on node ${nodeVersion} (${node}); setup ${setup} s${pi.fresh ? " (installed)" : ""}`);

const vitest = join(ROOT, "node_modules", "vitest", "vitest.mjs");
const timeouts = ["--testTimeout", "60000", "--hookTimeout", "60000"];
const env = { ...process.env, LOOP_PI_BIN: piBin, LOOP_PI_NODE: node };
const run = spawnSync(process.execPath, [vitest, "run", "--dir", "test/e2e", ...timeouts, ...process.argv.slice(2)], {
	cwd: ROOT,
	env,
	stdio: "inherit",
});
log(`pi ${piVersion} on node ${nodeVersion}: vitest exited ${run.status}`);
process.exit(run.status ?? 1);
