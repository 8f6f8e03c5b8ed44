/**
 * A folder of markdown task files as the task queue of `/loop issues --source dir:<folder>`, for use without GitHub.
 * One file per task (`12-fix-login.md`); optional front matter between `---` lines holds `state` (open, claimed,
 * pr-open, failed, done), `number`, `title`, `labels` and, once delivered, `branch`. The loop's state lives in the
 * file: mark() and deliver() rewrite one front matter line (atomically) and leave every other byte as it was;
 * comments go to a sibling `<stem>.log.md`. A folder queue has no pull requests: delivery is the pushed branch.
 *
 * Rules a user sees (README "Running the factory at night"):
 * - The number is front matter `number`, else the file name's leading digits; files ending `.log.md`, hidden files
 *   and non-markdown files are not tasks.
 * - A file with no `labels` key carries every label (a plain folder of task files just works); `labels: []` carries
 *   none. Labels compare case-insensitively, as GitHub's do.
 * - A file that cannot be read as a task (no number, a number twice, bad front matter, a symlink) is skipped by
 *   list() and named in `problems` with the reason; get() of its number throws that reason.
 *
 * Task text is untrusted: the front matter is read by the small line parser below (no YAML library, nothing
 * evaluated), values are single lines, and written values must be single lines.
 */
import { randomBytes } from "node:crypto";
import { appendFile, chmod, lstat, readdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { GitError, runGit } from "../../core/git.ts";
import type { IntakeTask, LoopLabel, TaskSource } from "./task-source.ts";

export const TASK_STATES = ["open", "claimed", "pr-open", "failed", "done"] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** A file in the folder that list() skipped, and why. */
export interface TaskFileProblem {
	/** The file's name in the folder. */
	file: string;
	reason: string;
}

export interface DirSource extends TaskSource {
	/** The files the latest scan (list, get, delivered, mark, deliver) could not read as tasks, by file name. */
	readonly problems: readonly TaskFileProblem[];
}

/** A task file read: its task, loop state and delivered branch. */
interface TaskFile {
	file: string;
	path: string;
	task: IntakeTask;
	state: TaskState;
	branch?: string;
	/** Whether the front matter has a `labels` key (none: the file carries every label). */
	hasLabels: boolean;
}

const LOG_SUFFIX = ".log.md";

/** The queue over `folder` (relative to `projectDir`, or absolute inside it); a folder outside it throws. */
export function dirSource(projectDir: string, folder: string): DirSource {
	const root = resolve(projectDir);
	const dir = insideProject(root, folder);
	let problems: TaskFileProblem[] = [];

	const scan = async (): Promise<{ tasks: TaskFile[]; problems: TaskFileProblem[] }> => {
		const found = await scanFolder(dir);
		problems = found.problems;
		return found;
	};
	const locate = async (number: number): Promise<TaskFile> => {
		const { tasks, problems: skipped } = await scan();
		const hit = tasks.find((t) => t.task.number === number);
		if (hit) return hit;
		const problem = skipped.find((p) => fileNumber(p.file) === number);
		if (problem) throw new Error(`The task file ${folder}/${problem.file} cannot be read: ${problem.reason}`);
		throw new Error(`No task numbered ${number} in ${folder}/ (a file ${number}-<name>.md, or front matter number)`);
	};

	return {
		name: `dir:${folder}`,
		get problems() {
			return problems;
		},
		async check() {
			const info = await stat(dir).catch(() => undefined);
			if (!info) throw new Error(`The task folder ${folder} does not exist in ${root}: create it, one .md per task`);
			if (!info.isDirectory()) throw new Error(`The task folder ${folder} in ${root} is not a directory`);
			const [realRoot, realDir] = await Promise.all([realpath(root), realpath(dir)]);
			if (escapes(realRoot, realDir)) {
				throw new Error(`The task folder ${folder} leads outside the project ${root} (to ${realDir})`);
			}
		},
		async defaultBase() {
			const args = ["symbolic-ref", "--short", "-q", "HEAD"];
			const result = await runGit(root, args);
			if (result.code === 0) return result.stdout.trim();
			if (result.code === 1) {
				throw new Error(`HEAD is detached in ${root}: check out a branch or give --base <branch>`);
			}
			throw new GitError(args, root, result.stderr.trim(), result.code);
		},
		async list(label, limit) {
			const wanted = label.toLowerCase();
			const { tasks } = await scan();
			return tasks
				.filter((t) => t.state === "open")
				.filter((t) => !t.hasLabels || t.task.labels.some((l) => l.toLowerCase() === wanted))
				.sort((a, b) => a.task.number - b.task.number)
				.slice(0, Math.max(0, limit))
				.map((t) => t.task);
		},
		async get(number) {
			const found = await locate(number);
			return { ...found.task, open: found.state !== "done" };
		},
		async delivered(branch) {
			const { tasks } = await scan();
			return tasks.some((t) => t.branch === branch && t.state === "pr-open");
		},
		async mark(task, change) {
			const found = await locate(task.number);
			const next = change.add
				? stateOf(change.add)
				: change.remove && found.state === stateOf(change.remove)
					? "open"
					: found.state;
			if (next === found.state) return;
			await rewrite(found.path, (text) => setFrontMatterField(text, "state", next));
		},
		async comment(task, body) {
			const found = await locate(task.number);
			const log = join(dir, `${stem(found.file)}${LOG_SUFFIX}`);
			await appendFile(log, `## ${new Date().toISOString()}\n\n${body.replace(/\s+$/, "")}\n\n`);
		},
		async deliver(task, delivery) {
			const found = await locate(task.number);
			await rewrite(found.path, (text) => setFrontMatterField(text, "branch", delivery.branch));
			return {};
		},
	};
}

/** The absolute folder, or an Error when `folder` is empty or leads outside `root`. */
function insideProject(root: string, folder: string): string {
	if (folder.trim() === "") throw new Error("dir: needs a folder: --source dir:<folder> (e.g. dir:tasks)");
	const dir = resolve(root, folder);
	if (escapes(root, dir)) {
		throw new Error(`The task folder ${folder} is outside the project ${root}: give a folder inside it`);
	}
	return dir;
}

function escapes(root: string, path: string): boolean {
	const rel = relative(root, path);
	return rel === ".." || rel.startsWith("../") || rel.startsWith("..\\") || isAbsolute(rel);
}

function stateOf(label: LoopLabel): TaskState {
	return label.slice("loop:".length) as TaskState;
}

function stem(file: string): string {
	return file.replace(/\.md$/i, "");
}

/** The file name's leading digits as a number, undefined when there are none. */
function fileNumber(file: string): number | undefined {
	const digits = /^(\d+)/.exec(file)?.[1];
	return digits === undefined ? undefined : Number(digits);
}

function isTaskFileName(file: string): boolean {
	return !file.startsWith(".") && /\.md$/i.test(file) && !file.toLowerCase().endsWith(LOG_SUFFIX);
}

async function scanFolder(dir: string): Promise<{ tasks: TaskFile[]; problems: TaskFileProblem[] }> {
	const names = (await readdir(dir)).filter(isTaskFileName).sort();
	const tasks: TaskFile[] = [];
	const problems: TaskFileProblem[] = [];
	for (const file of names) {
		const path = join(dir, file);
		const info = await lstat(path);
		if (info.isSymbolicLink()) {
			problems.push({ file, reason: "a symbolic link (task files are read only as plain files)" });
			continue;
		}
		if (!info.isFile()) continue;
		const read = readTaskFile(file, path, await readFile(path, "utf8"));
		if ("reason" in read) problems.push({ file, reason: read.reason });
		else tasks.push(read);
	}
	// A number given twice: neither file is a task (which one would a claim mean?).
	const byNumber = new Map<number, TaskFile[]>();
	for (const t of tasks) byNumber.set(t.task.number, [...(byNumber.get(t.task.number) ?? []), t]);
	const unique: TaskFile[] = [];
	for (const group of byNumber.values()) {
		if (group.length === 1) unique.push(group[0]!);
		else {
			const files = group.map((t) => t.file).join(", ");
			for (const t of group) problems.push({ file: t.file, reason: `number ${t.task.number} is used by ${files}` });
		}
	}
	return { tasks: unique, problems: problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)) };
}

/** A task file's text → its task, or the reason it is not one. */
function readTaskFile(file: string, path: string, text: string): TaskFile | { reason: string } {
	const split = splitFrontMatter(text);
	if ("reason" in split) return split;
	const fields = parseFields(split.lines);
	if ("reason" in fields) return fields;
	const scalar = (key: string): string | undefined => {
		const value = fields.get(key);
		return typeof value === "string" ? value : undefined;
	};
	for (const key of ["state", "number", "title", "branch"]) {
		if (Array.isArray(fields.get(key))) return { reason: `front matter ${key} must be one value, not a list` };
	}

	const state = (scalar("state") || "open") as TaskState;
	if (!TASK_STATES.includes(state)) {
		return { reason: `front matter state "${state}" is not one of ${TASK_STATES.join(", ")}` };
	}
	const given = scalar("number");
	const number = given !== undefined && given !== "" ? Number(given) : fileNumber(file);
	if (number === undefined) {
		return { reason: "no number: name the file <number>-<name>.md (12-fix-login.md) or give front matter number" };
	}
	if (!Number.isSafeInteger(number) || number <= 0 || (given && !/^\d+$/.test(given))) {
		return { reason: `the number ${given ?? number} is not a positive whole number` };
	}
	const labelsValue = fields.get("labels");
	const ownLabels = labelsValue === undefined ? [] : typeof labelsValue === "string" ? [labelsValue] : labelsValue;
	const labels = ownLabels.filter((l) => l !== "");
	if (state !== "open" && state !== "done") labels.push(`loop:${state}`);

	const body = split.body.replace(/\r\n/g, "\n");
	const title = scalar("title") || firstHeading(body) || stem(basename(file));
	const branch = scalar("branch") || undefined;
	const task: IntakeTask = { number, title, body, labels, url: path };
	return { file, path, task, state, ...(branch ? { branch } : {}), hasLabels: labelsValue !== undefined };
}

interface FrontMatter {
	/** The front matter's lines (without line endings), empty when the file has none. */
	lines: string[];
	body: string;
}

const LINE = /([^\r\n]*)(\r\n|\n|\r(?!\n)|$)/y;

/** Lines with their endings: `[text, ending]`; the ending is "" only for a last line without one. */
function linesOf(text: string): [string, string][] {
	const out: [string, string][] = [];
	LINE.lastIndex = 0;
	while (LINE.lastIndex < text.length) {
		const m = LINE.exec(text)!;
		out.push([m[1]!, m[2]!]);
	}
	return out;
}

const FENCE = /^---[ \t]*$/;

/** Front matter: a first line `---` (after an optional BOM) up to the next `---` line. */
function splitFrontMatter(text: string): FrontMatter | { reason: string } {
	const start = text.startsWith("\uFEFF") ? 1 : 0;
	const lines = linesOf(text.slice(start));
	if (lines.length === 0 || !FENCE.test(lines[0]![0])) return { lines: [], body: text.slice(start) };
	const close = lines.findIndex(([line], i) => i > 0 && FENCE.test(line));
	if (close < 0) return { reason: "front matter opened with --- is never closed by a --- line" };
	const body = lines
		.slice(close + 1)
		.map(([line, end]) => line + end)
		.join("");
	return { lines: lines.slice(1, close).map(([line]) => line), body };
}

const KEY = /^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$/;
const ITEM = /^[ \t]*-(?:[ \t]+(.*?))?[ \t]*$/;

/** `key: value`, `key: [a, b]`, `key:` followed by `- item` lines; `#` comment lines and blank lines. */
function parseFields(lines: string[]): Map<string, string | string[]> | { reason: string } {
	const fields = new Map<string, string | string[]>();
	let listKey: string | undefined;
	for (const [i, line] of lines.entries()) {
		if (/^[ \t]*(#.*)?$/.test(line)) continue;
		const item = ITEM.exec(line);
		if (item && listKey !== undefined) {
			const list = fields.get(listKey);
			fields.set(listKey, [...(Array.isArray(list) ? list : []), unquote(item[1] ?? "")]);
			continue;
		}
		const field = KEY.exec(line);
		if (!field) return { reason: `front matter line ${i + 2} is not "key: value" or "- item": ${clip(line)}` };
		const [, key, raw = ""] = field;
		if (fields.has(key!)) return { reason: `front matter ${key} is given twice` };
		listKey = raw === "" ? key : undefined;
		const inline = /^\[(.*)\]$/.exec(raw);
		fields.set(key!, inline ? splitInline(inline[1]!) : unquote(raw));
	}
	return fields;
}

function splitInline(inner: string): string[] {
	return inner.trim() === "" ? [] : inner.split(",").map((part) => unquote(part.trim()));
}

function unquote(value: string): string {
	const m = /^"(.*)"$|^'(.*)'$/.exec(value);
	return m ? (m[1] ?? m[2] ?? "") : value;
}

function clip(line: string): string {
	return JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line);
}

/** The first `# heading` outside fenced code blocks. */
function firstHeading(body: string): string | undefined {
	let fenced = false;
	for (const line of body.split("\n")) {
		if (/^[ \t]{0,3}(```|~~~)/.test(line)) fenced = !fenced;
		else if (!fenced) {
			const heading = /^[ \t]{0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line)?.[1];
			if (heading) return heading;
		}
	}
	return undefined;
}

/**
 * `text` with front matter `key: value` set: the key's line rewritten in place (its spacing before the colon and its
 * line ending kept), else a line added before the closing `---`, else front matter added at the top; every other
 * byte stays. The file's first line ending is used for new lines.
 */
function setFrontMatterField(text: string, key: string, value: string): string {
	if (/[\r\n]/.test(value)) throw new Error(`A front matter ${key} must be one line`);
	const bom = text.startsWith("\uFEFF") ? "\uFEFF" : "";
	const lines = linesOf(text.slice(bom.length));
	const eol = lines.find(([, end]) => end !== "")?.[1] ?? "\n";
	const joined = (ls: [string, string][]) => bom + ls.map(([line, end]) => line + end).join("");
	if (lines.length === 0 || !FENCE.test(lines[0]![0]))
		return `${bom}---${eol}${key}: ${value}${eol}---${eol}${text.slice(bom.length)}`;
	const close = lines.findIndex(([line], i) => i > 0 && FENCE.test(line));
	if (close < 0) throw new Error("The front matter opened with --- is never closed by a --- line");
	const at = lines.findIndex(([line], i) => i > 0 && i < close && KEY.exec(line)?.[1] === key);
	if (at >= 0) {
		const prefix = /^[^:]*:/.exec(lines[at]![0])![0];
		lines[at] = [`${prefix} ${value}`, lines[at]![1]];
	} else lines.splice(close, 0, [`${key}: ${value}`, eol]);
	return joined(lines);
}

/** Replaces a file's text through a temp file in the same folder and a rename (keeps the file's mode). */
async function rewrite(path: string, change: (text: string) => string): Promise<void> {
	const text = await readFile(path, "utf8");
	const next = change(text);
	if (next === text) return;
	const mode = (await stat(path)).mode & 0o7777;
	const temp = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
	try {
		await writeFile(temp, next, { flag: "wx" });
		await chmod(temp, mode);
		await rename(temp, path);
	} catch (error) {
		await rm(temp, { force: true });
		throw error;
	}
}
