/**
 * The checklists build loops work through. PlanTasks edits
 * IMPLEMENTATION_PLAN.md in place; PrdTasks keeps `.pi/loop/tasks.json`
 * (id, description, completed) as its record and syncs ticks and blocks back
 * to the PRD's checkboxes. Both find items by their text.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ChecklistItem, findItem, firstOpen, parseChecklist, setBlocked, setDone } from "../checklist.ts";
import { writeFileAtomic } from "../store.ts";

export interface TaskSource {
	/** Project-relative path of the checklist file. */
	readonly file: string;
	items(): ChecklistItem[];
	open(): ChecklistItem | undefined;
	isDone(text: string): boolean;
	setDone(text: string, done: boolean): void;
	block(text: string, reason: string): void;
}

export class PlanTasks implements TaskSource {
	constructor(
		private readonly cwd: string,
		readonly file: string,
	) {}

	protected read(): string {
		const path = join(this.cwd, this.file);
		return existsSync(path) ? readFileSync(path, "utf8") : "";
	}

	protected write(text: string): void {
		writeFileAtomic(join(this.cwd, this.file), text);
	}

	items(): ChecklistItem[] {
		return parseChecklist(this.read());
	}

	open(): ChecklistItem | undefined {
		return firstOpen(this.items());
	}

	isDone(text: string): boolean {
		return findItem(this.read(), text, (i) => i.done)?.done === true;
	}

	setDone(text: string, done: boolean): void {
		this.write(setDone(this.read(), text, done));
	}

	block(text: string, reason: string): void {
		this.write(setBlocked(this.read(), text, reason));
	}
}

export interface PrdTask {
	id: number;
	description: string;
	completed: boolean;
	blocked?: string;
	/** The PRD file the task comes from. */
	source: string;
}

/** PRD items mirrored in tasks.json; the JSON is the record, the PRD's checkboxes follow it. */
export class PrdTasks extends PlanTasks {
	constructor(
		cwd: string,
		file: string,
		private readonly tasksFile: string,
	) {
		super(cwd, file);
	}

	/** Parses the PRD into tasks.json; the PRD's checkboxes are the truth at the start of a run. */
	sync(): PrdTask[] {
		const tasks = parseChecklist(this.read()).map((item, i) => ({
			id: i + 1,
			description: item.text,
			completed: item.done,
			...(item.blocked === undefined ? {} : { blocked: item.blocked }),
			source: this.file,
		}));
		writeFileAtomic(this.tasksFile, `${JSON.stringify(tasks, null, 2)}\n`);
		return tasks;
	}

	/** The mirrored tasks; an unreadable tasks.json is rebuilt from the PRD (which is the truth). */
	tasks(): PrdTask[] {
		if (!existsSync(this.tasksFile)) return [];
		try {
			return JSON.parse(readFileSync(this.tasksFile, "utf8")) as PrdTask[];
		} catch {
			return this.sync();
		}
	}

	private update(text: string, change: (t: PrdTask) => void): void {
		const tasks = this.tasks();
		for (const t of tasks) if (t.description === text) change(t);
		writeFileAtomic(this.tasksFile, `${JSON.stringify(tasks, null, 2)}\n`);
	}

	override setDone(text: string, done: boolean): void {
		this.update(text, (t) => {
			t.completed = done;
		});
		super.setDone(text, done);
	}

	override block(text: string, reason: string): void {
		this.update(text, (t) => {
			t.blocked = reason;
		});
		super.block(text, reason);
	}
}
