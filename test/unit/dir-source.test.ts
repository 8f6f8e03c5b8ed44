/** Unit tests: a folder of markdown task files as the task queue (intake/dir-source.ts), with real files and git. */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { issueBranch } from "../../extensions/core/github.ts";
import { dirSource } from "../../extensions/loop/intake/dir-source.ts";
import type { IntakeTask } from "../../extensions/loop/intake/task-source.ts";
import { tempTree } from "../support/temp-tree.ts";

/** A project with `files` under tasks/ and the queue over it. */
function queue(files: Record<string, string>) {
	const root = tempTree("pi-dir-source-", Object.fromEntries(Object.entries(files).map(([f, t]) => [`tasks/${f}`, t])));
	const source = dirSource(root, "tasks");
	const read = (file: string) => readFileSync(join(root, "tasks", file), "utf8");
	return { root, source, read };
}

const numbers = (tasks: IntakeTask[]) => tasks.map((t) => t.number);

describe("dirSource list", () => {
	it("lists open tasks carrying the label, by ascending number (not file name order), at most limit", async () => {
		const { source } = queue({
			"10-ten.md": "---\nlabels: [loop]\n---\n# Ten\n",
			"2-two.md": "---\nlabels: [loop, bug]\n---\n# Two\n",
			"7-seven.md": "---\nstate: claimed\nlabels: [loop]\n---\n",
			"3-three.md": "---\nstate: done\nlabels: [loop]\n---\n",
			"4-four.md": "---\nstate: failed\nlabels: [loop]\n---\n",
			"5-five.md": "---\nstate: pr-open\nlabels: [loop]\n---\n",
			"6-six.md": "---\nlabels: [bug]\n---\n",
			"11-eleven.md": "---\nstate: open\nlabels:\n  - docs\n  - loop\n---\n",
			"notes.txt": "not a task",
		});
		expect(numbers(await source.list("loop", 10))).toEqual([2, 10, 11]);
		expect(numbers(await source.list("loop", 2))).toEqual([2, 10]);
		expect(numbers(await source.list("bug", 10))).toEqual([2, 6]);
		expect(numbers(await source.list("nothing", 10))).toEqual([]);
		expect(source.problems).toEqual([]);
		expect(source.name).toBe("dir:tasks");
	});

	it("takes a file without labels as carrying every label; labels: [] as carrying none; case-insensitive", async () => {
		const { source } = queue({
			"1-plain.md": "# Plain task\n\nJust do it.\n",
			"2-none.md": "---\nlabels: []\n---\n# Opted out\n",
			"3-empty-list.md": "---\nlabels:\n---\n",
			"4-upper.md": "---\nlabels: [Loop]\n---\n",
		});
		expect(numbers(await source.list("loop", 10))).toEqual([1, 4]);
		expect(numbers(await source.list("anything", 10))).toEqual([1]);
		const plain = await source.get(1);
		expect(plain).toMatchObject({ title: "Plain task", body: "# Plain task\n\nJust do it.\n", labels: [] });
		expect(plain.open).toBe(true);
	});

	it("reads number, title and labels from front matter, title from the heading, else the file name", async () => {
		const { root, source } = queue({
			"7-a.md": "---\nnumber: 40\ntitle: \"Quoted title\"\nlabels: [x, 'y']\nstate: claimed\n---\n# Heading\n",
			"8-b.md": "```sh\n# not a heading\n```\n\n# Real heading #\nbody\n",
			"9-no-heading.md": "just text\n",
			"12-done.md": "---\nstate: done\n---\n",
		});
		const a = await source.get(40);
		expect(a).toMatchObject({ number: 40, title: "Quoted title", labels: ["x", "y", "loop:claimed"], open: true });
		expect(a.url).toBe(join(root, "tasks", "7-a.md"));
		await expect(source.get(7)).rejects.toThrow("No task numbered 7 in tasks/");
		expect((await source.get(8)).title).toBe("Real heading");
		expect((await source.get(9)).title).toBe("9-no-heading");
		expect(await source.get(12)).toMatchObject({ open: false, labels: [] });
	});
});

describe("dirSource problems", () => {
	it("skips a file without a number and names it in problems", async () => {
		const { source } = queue({ "1-ok.md": "# ok\n", "notes.md": "# Notes\n", "README.md": "about\n" });
		expect(numbers(await source.list("loop", 10))).toEqual([1]);
		expect(source.problems.map((p) => p.file)).toEqual(["README.md", "notes.md"]);
		expect(source.problems[1]!.reason).toMatch(/^no number: name the file <number>-<name>.md/);
	});

	it("skips both files of a number given twice; get of that number says why", async () => {
		const { source } = queue({ "3-a.md": "# a\n", "b.md": "---\nnumber: 3\n---\n", "4-c.md": "# c\n" });
		expect(numbers(await source.list("loop", 10))).toEqual([4]);
		expect(source.problems).toEqual([
			{ file: "3-a.md", reason: "number 3 is used by 3-a.md, b.md" },
			{ file: "b.md", reason: "number 3 is used by 3-a.md, b.md" },
		]);
		await expect(source.get(3)).rejects.toThrow("The task file tasks/3-a.md cannot be read: number 3 is used by");
	});

	it("reports bad front matter: unclosed, unknown state, bad number, a line that is no field, a key twice", async () => {
		const { source } = queue({
			"1-unclosed.md": "---\nstate: open\n# body\n",
			"2-state.md": "---\nstate: finished\n---\n",
			"3-number.md": "---\nnumber: 1e3\n---\n",
			"4-junk.md": "---\njust words\n---\n",
			"5-twice.md": "---\nstate: open\nstate: done\n---\n",
			"6-zero.md": "---\nnumber: 0\n---\n",
			"7-list.md": "---\ntitle: [a, b]\n---\n",
		});
		expect(await source.list("loop", 10)).toEqual([]);
		expect(source.problems.map((p) => p.reason)).toEqual([
			"front matter opened with --- is never closed by a --- line",
			'front matter state "finished" is not one of open, claimed, pr-open, failed, done',
			"the number 1e3 is not a positive whole number",
			'front matter line 2 is not "key: value" or "- item": "just words"',
			"front matter state is given twice",
			"the number 0 is not a positive whole number",
			"front matter title must be one value, not a list",
		]);
		await expect(source.get(2)).rejects.toThrow('tasks/2-state.md cannot be read: front matter state "finished"');
	});
});

describe("dirSource mark", () => {
	it("rewrites only the state line, keeping every other byte, through open, claimed, pr-open, open", async () => {
		const original =
			"---\n# a comment\ntitle:   Fix login  \nstate  :   open\nlabels:\n  - loop\n  - auth\nextra: kept as is\n---\n" +
			"# Fix login\n\n---\nstate: done\n---\nno newline at end";
		const { source, read, root } = queue({ "12-fix-login.md": original });
		const task = (await source.list("loop", 1))[0]!;
		expect(task.body).toBe("# Fix login\n\n---\nstate: done\n---\nno newline at end");

		await source.mark(task, { add: "loop:claimed" });
		expect(read("12-fix-login.md")).toBe(original.replace("state  :   open\n", "state  : claimed\n"));
		expect((await source.get(12)).labels).toEqual(["loop", "auth", "loop:claimed"]);
		expect(await source.list("loop", 1)).toEqual([]);

		await source.mark(task, { add: "loop:pr-open", remove: "loop:claimed" });
		expect(read("12-fix-login.md")).toBe(original.replace("state  :   open\n", "state  : pr-open\n"));

		// Removing a state the task is not in changes nothing (as removing an absent label on GitHub).
		await source.mark(task, { remove: "loop:failed" });
		expect(read("12-fix-login.md")).toBe(original.replace("state  :   open\n", "state  : pr-open\n"));

		await source.mark(task, { remove: "loop:pr-open" });
		expect(read("12-fix-login.md")).toBe(original.replace("state  :   open\n", "state  : open\n"));
		expect(numbers(await source.list("loop", 1))).toEqual([12]);
		expect(readdirSync(join(root, "tasks"))).toEqual(["12-fix-login.md"]);
	});

	it("adds the state line to front matter without one, and front matter to a file without any", async () => {
		const { source, read } = queue({ "1-a.md": "---\ntitle: A\n---\nbody\n", "2-b.md": "# B\n\ntext\n" });
		await source.mark(await source.get(1), { add: "loop:failed" });
		expect(read("1-a.md")).toBe("---\ntitle: A\nstate: failed\n---\nbody\n");
		await source.mark(await source.get(2), { add: "loop:claimed" });
		expect(read("2-b.md")).toBe("---\nstate: claimed\n---\n# B\n\ntext\n");
		expect(await source.get(2)).toMatchObject({ title: "B", body: "# B\n\ntext\n", labels: ["loop:claimed"] });
	});

	it("keeps the file's mode", async () => {
		const { source, root } = queue({ "1-a.md": "# a\n" });
		const path = join(root, "tasks", "1-a.md");
		execFileSync("chmod", ["600", path]);
		await source.mark(await source.get(1), { add: "loop:claimed" });
		expect(statSync(path).mode & 0o777).toBe(0o600);
	});
});

describe("dirSource CRLF", () => {
	it("reads CRLF files and writes new lines with CRLF, the rest unchanged", async () => {
		const original = "---\r\nlabels:\r\n  - loop\r\ntitle: Windows task\r\n---\r\n# Heading\r\n\r\nDo it.\r\n";
		const { source, read } = queue({ "5-win.md": original, "6-win.md": "# Only heading\r\nbody\r\n" });
		const tasks = await source.list("loop", 10);
		expect(tasks.map((t) => [t.number, t.title, t.labels])).toEqual([
			[5, "Windows task", ["loop"]],
			[6, "Only heading", []],
		]);
		expect(tasks[0]!.body).toBe("# Heading\n\nDo it.\n");
		await source.mark(tasks[0]!, { add: "loop:claimed" });
		expect(read("5-win.md")).toBe(original.replace("---\r\n#", "state: claimed\r\n---\r\n#"));
		await source.mark(tasks[0]!, { add: "loop:failed" });
		expect(read("5-win.md")).toBe(original.replace("---\r\n#", "state: failed\r\n---\r\n#"));
		await source.mark(tasks[1]!, { add: "loop:claimed" });
		expect(read("6-win.md")).toBe("---\r\nstate: claimed\r\n---\r\n# Only heading\r\nbody\r\n");
	});
});

describe("dirSource comment, deliver, delivered", () => {
	it("appends comments to <stem>.log.md with a timestamped heading; the log is no task", async () => {
		const { source, read } = queue({ "3-x.md": "# x\n" });
		const task = await source.get(3);
		await source.comment(task, "Claimed by run r1.");
		await source.comment(task, "Failed:\n\n- tests\n\n");
		const log = read("3-x.log.md");
		expect(log).toMatch(
			/^## \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n\nClaimed by run r1\.\n\n## \d{4}-[^\n]*Z\n\nFailed:\n\n- tests\n\n$/,
		);
		expect(numbers(await source.list("loop", 10))).toEqual([3]);
		expect(source.problems).toEqual([]);
		expect(read("3-x.md")).toBe("# x\n");
	});

	it("records the branch on deliver; delivered only for that branch with state pr-open", async () => {
		const { source, read } = queue({ "4-y.md": "---\nstate: claimed\n---\n# Y\n", "5-z.md": "# Z\n" });
		const task = await source.get(4);
		const branch = issueBranch(4, task.title);
		expect(await source.delivered(branch)).toBe(false);
		const delivery = { branch, base: "main", title: "Y", body: "done" };
		expect(await source.deliver(task, delivery)).toEqual({});
		expect(read("4-y.md")).toBe(`---\nstate: claimed\nbranch: ${branch}\n---\n# Y\n`);
		expect(await source.delivered(branch)).toBe(false);
		await source.mark(task, { add: "loop:pr-open", remove: "loop:claimed" });
		expect(await source.delivered(branch)).toBe(true);
		expect(await source.delivered("loop/issue-5-z")).toBe(false);
		// A second delivery rewrites the line in place.
		await source.deliver(task, { ...delivery, branch: "loop/issue-4-other" });
		expect(read("4-y.md")).toBe("---\nstate: pr-open\nbranch: loop/issue-4-other\n---\n# Y\n");
		await expect(source.deliver(task, { ...delivery, branch: "a\nstate: done" })).rejects.toThrow(
			"A front matter branch must be one line",
		);
	});
});

describe("dirSource folder", () => {
	it("check() fails for a missing folder and for a file, passes for a directory", async () => {
		const root = tempTree("pi-dir-source-", { "tasks/1-a.md": "# a\n", "file.md": "x" });
		await expect(dirSource(root, "missing").check()).rejects.toThrow(
			`The task folder missing does not exist in ${root}`,
		);
		await expect(dirSource(root, "file.md").check()).rejects.toThrow(
			`The task folder file.md in ${root} is not a directory`,
		);
		await expect(dirSource(root, "tasks").check()).resolves.toBeUndefined();
		await expect(dirSource(root, "./tasks/").check()).resolves.toBeUndefined();
	});

	it("refuses a folder outside the project: .., absolute elsewhere, empty, a symlink leading out", async () => {
		const root = tempTree("pi-dir-source-", { "tasks/1-a.md": "# a\n" });
		for (const folder of ["..", "../tasks", "tasks/../../x", tmpdir(), "/etc"]) {
			expect(() => dirSource(root, folder), folder).toThrow(`The task folder ${folder} is outside the project`);
		}
		expect(() => dirSource(root, " ")).toThrow("dir: needs a folder");
		expect(dirSource(root, join(root, "tasks")).name).toBe(`dir:${join(root, "tasks")}`);
		const outside = tempTree("pi-dir-outside-", { "1-b.md": "# b\n" });
		symlinkSync(outside, join(root, "linked"));
		await expect(dirSource(root, "linked").check()).rejects.toThrow("The task folder linked leads outside the project");
	});

	it("does not read a symlinked task file", async () => {
		const outside = tempTree("pi-dir-outside-", { "secret.md": "# secret\n" });
		const { root, source } = queue({ "1-a.md": "# a\n" });
		symlinkSync(join(outside, "secret.md"), join(root, "tasks", "2-link.md"));
		expect(numbers(await source.list("loop", 10))).toEqual([1]);
		expect(source.problems).toEqual([
			{ file: "2-link.md", reason: "a symbolic link (task files are read only as plain files)" },
		]);
	});
});

describe("dirSource untrusted text", () => {
	it("takes a hostile title and body as text: nothing runs, the body's --- is body", async () => {
		const hostile = '$(touch pwned) `touch pwned2` "; rm -rf ~ #';
		const { root, source, read } = queue({
			"9-evil.md": `---\ntitle: ${hostile}\n__proto__: polluted\nconstructor: x\n---\n---\nstate: done\n---\n`,
		});
		const [task] = await source.list("loop", 10);
		expect(task).toMatchObject({ number: 9, title: hostile, body: "---\nstate: done\n---\n", labels: [] });
		// Keys named like Object members are plain keys (a parser on a plain object would see them as given twice).
		expect(source.problems).toEqual([]);
		expect(issueBranch(task!.number, task!.title)).toBe("loop/issue-9-touch-pwned-touch-pwned2-rm-rf");
		await source.mark(task!, { add: "loop:claimed" });
		expect(read("9-evil.md")).toContain(`title: ${hostile}\n__proto__: polluted\nconstructor: x\nstate: claimed\n`);
		await source.comment(task!, hostile);
		expect(existsSync(join(root, "pwned")) || existsSync(join(root, "tasks", "pwned"))).toBe(false);
		expect(existsSync(join(process.cwd(), "pwned"))).toBe(false);
	});
});

describe("dirSource defaultBase", () => {
	const git = (cwd: string, ...args: string[]) =>
		execFileSync("git", ["-c", "user.name=T", "-c", "user.email=t@test.invalid", ...args], {
			cwd,
			encoding: "utf8",
		});

	it("is the current branch; detached HEAD and no repository are errors", async () => {
		const root = tempTree("pi-dir-source-git-", { "tasks/1-a.md": "# a\n" });
		await expect(dirSource(root, "tasks").defaultBase()).rejects.toThrow("git symbolic-ref");
		git(root, "init", "-q", "-b", "trunk");
		git(root, "commit", "-q", "--allow-empty", "-m", "first");
		const source = dirSource(root, "tasks");
		expect(await source.defaultBase()).toBe("trunk");
		git(root, "checkout", "-q", "-b", "feature/x");
		expect(await source.defaultBase()).toBe("feature/x");
		git(root, "checkout", "-q", "--detach");
		await expect(source.defaultBase()).rejects.toThrow(`HEAD is detached in ${root}`);
		writeFileSync(join(root, "tasks", "2-b.md"), "# b\n");
		expect(numbers(await source.list("loop", 10))).toEqual([1, 2]);
	});
});
