/**
 * Where `/loop issues` takes its work from and reports back to: a queue of tasks with a loop state each (claimed,
 * pull request open, failed), comments, and delivery. GitHub issues (github-source.ts) and a folder of markdown
 * task files (dir-source.ts) implement it. A task's title and body come from outside: untrusted text.
 */

/** A unit of work from the queue. */
export interface IntakeTask {
	/** The issue number (GitHub) or the task file's number (`12-fix-login.md`, or front matter `number`). */
	number: number;
	/** Untrusted. */
	title: string;
	/** Untrusted. */
	body: string;
	/** Label names (a task file's front matter `labels`, and `loop:<state>` for its `state`). */
	labels: string[];
	/** The page, or the task file's path. */
	url: string;
}

/** The loop's state labels on a task; at most one at a time. */
export type LoopLabel = "loop:claimed" | "loop:pr-open" | "loop:failed";

export interface Delivery {
	/** The task's branch, pushed. */
	branch: string;
	base: string;
	title: string;
	/** Markdown. */
	body: string;
}

export interface TaskSource {
	/** For messages: "GitHub owner/name" or "dir:tasks". */
	readonly name: string;
	/** Whether it can be used at all (gh logged in, the folder there); throws an Error saying what to do. */
	check(): Promise<void>;
	/** The branch work starts from and pull requests go to when `--base` is not given. */
	defaultBase(): Promise<string>;
	/** Open tasks carrying `label`, oldest first, at most `limit`. */
	list(label: string, limit: number): Promise<IntakeTask[]>;
	/** One task by number, open or not (its labels tell). */
	get(number: number): Promise<IntakeTask & { open: boolean }>;
	/** Whether a delivery from this branch exists (an open pull request); a task with one is skipped. */
	delivered(branch: string): Promise<boolean>;
	/** Adds and removes loop state labels. */
	mark(task: IntakeTask, change: { add?: LoopLabel; remove?: LoopLabel }): Promise<void>;
	comment(task: IntakeTask, body: string): Promise<void>;
	/** A draft pull request (GitHub; its URL) or nothing beyond the pushed branch (a folder's tasks). */
	deliver(task: IntakeTask, delivery: Delivery): Promise<{ url?: string }>;
}
