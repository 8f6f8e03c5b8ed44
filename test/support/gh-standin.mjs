#!/usr/bin/env node
// A stand-in for the GitHub CLI, for tests (put on PATH as `gh` by gh-standin-install.mjs). It answers exactly
// the invocations core/github.ts may make, on the state in the JSON file named by GH_STANDIN_STATE, and records
// them under `calls` (every one the contract allows, failed ones too); anything else exits 2 with
// "gh-standin: not in the contract: <argv>" and is recorded under `rejected`. GH_STANDIN_FAIL ("pr create",
// "issue comment:2", comma-separated) makes that call (every one, or the nth of its kind) fail like a 502 without
// touching issues or pull requests; GH_STANDIN_LOGGED_OUT=1 fails like gh with no login. State changes hold a lock
// file and are written to a temp file then renamed, so concurrent stand-ins do not lose each other's changes.
import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";

/** Per invocation: positional issue number or not, flags taking a value, flags without one. */
const CONTRACT = {
	"auth status": { number: false, values: [], switches: [] },
	"repo view": { number: false, values: ["repo", "json"], switches: [] },
	"issue list": { number: false, values: ["repo", "label", "state", "json", "limit"], switches: [] },
	"issue view": { number: true, values: ["repo", "json"], switches: [] },
	"issue edit": { number: true, values: ["repo", "add-label", "remove-label"], switches: [] },
	"issue comment": { number: true, values: ["repo", "body", "body-file"], switches: [] },
	"pr list": { number: false, values: ["repo", "head", "state", "json"], switches: [] },
	"pr create": { number: false, values: ["repo", "base", "head", "title", "body", "body-file"], switches: ["draft"] },
};

/** What each invocation must carry beyond its flags' syntax; a string says what is wrong. */
const RULES = {
	"auth status": () => undefined,
	"repo view": (f) => fields(f, "nameWithOwner,defaultBranchRef"),
	"issue list": (f) =>
		need(f, "repo", "label", "state", "json", "limit") ??
		(f.state !== "open" ? "--state must be open" : undefined) ??
		(/^[1-9]\d*$/.test(f.limit) ? undefined : "--limit must be a positive number") ??
		fields(f, "number,title,body,labels,url"),
	"issue view": (f) => need(f, "number", "repo", "json") ?? fields(f, "number,title,body,labels,url,state"),
	"issue edit": (f) =>
		need(f, "number", "repo") ?? ((f["add-label"] ?? f["remove-label"]) === undefined ? "no label change" : undefined),
	"issue comment": (f) => need(f, "number", "repo") ?? oneBody(f),
	"pr list": (f) =>
		need(f, "repo", "head", "state", "json") ??
		(f.state !== "all" ? "--state must be all" : undefined) ??
		fields(f, "number,url,state,headRefName"),
	"pr create": (f) => need(f, "repo", "draft", "base", "head", "title") ?? oneBody(f),
};

function need(flags, ...names) {
	const missing = names.filter((name) => flags[name] === undefined);
	return missing.length ? `missing ${missing.join(", ")}` : undefined;
}

function fields(flags, wanted) {
	if (flags.json === undefined) return "missing json";
	const sorted = (list) => list.split(",").sort().join(",");
	return sorted(flags.json) === sorted(wanted) ? undefined : `--json must be ${wanted}`;
}

function oneBody(flags) {
	return (flags.body === undefined) === (flags["body-file"] === undefined) ? "needs --body or --body-file" : undefined;
}

/** argv → { key, flags } or { reason } when it is not in the contract. */
function parseCall(argv) {
	const key = argv.slice(0, 2).join(" ");
	const spec = CONTRACT[key];
	if (!spec) return { reason: "unknown command" };
	const flags = {};
	const rest = argv.slice(2);
	for (let i = 0; i < rest.length; i++) {
		const arg = rest[i];
		if (!arg.startsWith("--")) {
			if (!spec.number || flags.number !== undefined || !/^[1-9]\d*$/.test(arg)) return { reason: `argument ${arg}` };
			flags.number = arg;
			continue;
		}
		const eq = arg.indexOf("=");
		const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
		if (flags[name] !== undefined) return { reason: `--${name} twice` };
		if (spec.switches.includes(name) && eq === -1) flags[name] = true;
		else if (!spec.values.includes(name)) return { reason: `flag ${arg}` };
		else if (eq !== -1) flags[name] = arg.slice(eq + 1);
		else if (i + 1 < rest.length) flags[name] = rest[++i];
		else return { reason: `--${name} without a value` };
	}
	const reason = RULES[key](flags);
	return reason ? { reason } : { key, flags };
}

// State: read and written under a lock file (created exclusively; a lock older than 10 s is taken as stale).

const statePath = process.env.GH_STANDIN_STATE;

function sleep(ms) {
	Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function withLock(action) {
	const lock = `${statePath}.lock`;
	for (let attempt = 0; ; attempt++) {
		try {
			closeSync(openSync(lock, "wx"));
			break;
		} catch (error) {
			if (error.code !== "EEXIST") throw error;
			try {
				if (Date.now() - statSync(lock).mtimeMs > 10_000) rmSync(lock, { force: true });
			} catch {
				// released meanwhile
			}
			if (attempt > 1000) throw new Error(`gh-standin: ${lock} stays locked`);
			sleep(5 + Math.random() * 10);
		}
	}
	try {
		return action();
	} finally {
		rmSync(lock, { force: true });
	}
}

function readState() {
	const state = JSON.parse(readFileSync(statePath, "utf8"));
	for (const list of ["issues", "prs", "calls", "rejected"]) state[list] ??= [];
	state.repo ??= { nameWithOwner: "owner/repo", defaultBranch: "main" };
	return state;
}

function writeState(state) {
	const temp = `${statePath}.${process.pid}.tmp`;
	writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`);
	renameSync(temp, statePath);
}

/** Thrown to end the call with gh-like output and exit code (state written only when `keep` is set). */
class Exit {
	constructor(code, stderr, stdout = "") {
		Object.assign(this, { code, stderr, stdout });
	}
}

const fail = (stderr, code = 1) => new Exit(code, stderr);

function injectedFailure(state, key) {
	const count = state.calls.filter((argv) => argv.slice(0, 2).join(" ") === key).length;
	for (const entry of (process.env.GH_STANDIN_FAIL ?? "").split(",")) {
		const [name, nth] = entry.trim().split(":");
		if (name === key && (nth === undefined || Number(nth) === count)) return true;
	}
	return false;
}

function pick(item, list) {
	return Object.fromEntries(list.split(",").map((field) => [field, item[field]]));
}

function labelObjects(names) {
	return names.map((name) => ({
		id: `LA_${Buffer.from(name).toString("hex")}`,
		name,
		description: "",
		color: "ededed",
	}));
}

function issueJson(state, issue) {
	return {
		...issue,
		body: issue.body ?? "",
		labels: labelObjects(issue.labels ?? []),
		state: (issue.state ?? "open").toUpperCase(),
		url: issue.url ?? `https://github.com/${state.repo.nameWithOwner}/issues/${issue.number}`,
	};
}

function findIssue(state, flags) {
	const issue = state.issues.find((candidate) => candidate.number === Number(flags.number));
	if (issue) return issue;
	const message = `GraphQL: Could not resolve to an issue or pull request with the number of ${flags.number}.`;
	throw fail(`${message} (repository.issue)`);
}

function bodyOf(flags) {
	if (flags.body !== undefined) return flags.body;
	try {
		return readFileSync(flags["body-file"] === "-" ? 0 : flags["body-file"], "utf8");
	} catch {
		throw fail(`open ${flags["body-file"]}: no such file or directory`);
	}
}

function nextNumber(state) {
	return Math.max(0, ...state.issues.map((issue) => issue.number), ...state.prs.map((pr) => pr.number)) + 1;
}

/** Runs one contract call on the state; returns stdout, throws an Exit for gh's failures. */
function answer(state, key, flags) {
	const repo = state.repo.nameWithOwner;
	if (flags.repo !== undefined && flags.repo !== repo) {
		throw fail(`GraphQL: Could not resolve to a Repository with the name '${flags.repo}'. (repository)`);
	}
	switch (key) {
		case "auth status":
			return [
				"github.com",
				"  ✓ Logged in to github.com account standin (keyring)",
				"  - Active account: true",
				"  - Git operations protocol: https",
				`  - Token: gho_${"*".repeat(36)}`,
				"  - Token scopes: 'repo'",
				"",
			].join("\n");
		case "repo view":
			return JSON.stringify({ nameWithOwner: repo, defaultBranchRef: { name: state.repo.defaultBranch } });
		case "issue list": {
			const label = flags.label.toLowerCase();
			const open = state.issues
				.map((issue) => issueJson(state, issue))
				.filter((issue) => issue.state === "OPEN" && issue.labels.some((l) => l.name.toLowerCase() === label));
			open.sort((a, b) => b.number - a.number);
			return JSON.stringify(open.slice(0, Number(flags.limit)).map((issue) => pick(issue, flags.json)));
		}
		case "issue view":
			return JSON.stringify(pick(issueJson(state, findIssue(state, flags)), flags.json));
		case "issue edit": {
			const issue = findIssue(state, flags);
			const split = (value) => (value ?? "").split(",").filter((name) => name !== "");
			const removed = split(flags["remove-label"]);
			issue.labels = (issue.labels ?? []).filter((name) => !removed.includes(name));
			for (const name of split(flags["add-label"])) if (!issue.labels.includes(name)) issue.labels.push(name);
			return `${issueJson(state, issue).url}\n`;
		}
		case "issue comment": {
			const issue = findIssue(state, flags);
			const body = bodyOf(flags);
			if (body.trim() === "") throw fail("Body cannot be blank");
			issue.comments ??= [];
			issue.comments.push({ body });
			return `${issueJson(state, issue).url}#issuecomment-${1000 + issue.comments.length}\n`;
		}
		case "pr list": {
			const prs = state.prs.filter((pr) => pr.headRefName === flags.head).sort((a, b) => b.number - a.number);
			return JSON.stringify(prs.map((pr) => pick({ ...pr, state: pr.state.toUpperCase() }, flags.json)));
		}
		case "pr create": {
			const body = bodyOf(flags);
			const open = state.prs.find((pr) => pr.headRefName === flags.head && pr.state.toUpperCase() === "OPEN");
			if (open) {
				const branches = `branch "${flags.head}" into branch "${open.baseRefName}"`;
				throw fail(`a pull request for ${branches} already exists:\n${open.url}`);
			}
			const number = nextNumber(state);
			const url = `https://github.com/${repo}/pull/${number}`;
			const { head: headRefName, base: baseRefName, title } = flags;
			state.prs.push({ number, url, state: "OPEN", headRefName, baseRefName, title, body, isDraft: !!flags.draft });
			return `${url}\n`;
		}
	}
}

function run(argv) {
	if (!statePath) return new Exit(2, "gh-standin: GH_STANDIN_STATE is not set");
	return withLock(() => {
		const state = readState();
		const call = parseCall(argv);
		if (!call.key) {
			state.rejected.push(argv);
			writeState(state);
			return new Exit(2, `gh-standin: not in the contract: ${JSON.stringify(argv)} (${call.reason})`);
		}
		state.calls.push(argv);
		const before = JSON.stringify(state);
		let outcome;
		if (process.env.GH_STANDIN_LOGGED_OUT === "1") {
			outcome =
				call.key === "auth status"
					? fail("You are not logged into any GitHub hosts. To log in, run: gh auth login")
					: fail("To get started with GitHub CLI, please run:  gh auth login", 4);
		} else if (injectedFailure(state, call.key)) {
			outcome = fail("HTTP 502: 502 Bad Gateway (https://api.github.com/graphql)");
		} else {
			try {
				outcome = new Exit(0, "", answer(state, call.key, call.flags));
			} catch (error) {
				if (!(error instanceof Exit)) throw error;
				outcome = error;
			}
		}
		// A failed call changes nothing but the record of calls.
		writeState(outcome.code === 0 ? state : JSON.parse(before));
		return outcome;
	});
}

const outcome = run(process.argv.slice(2));
if (outcome.stdout) process.stdout.write(outcome.stdout);
if (outcome.stderr) process.stderr.write(`${outcome.stderr}\n`);
process.exitCode = outcome.code;
