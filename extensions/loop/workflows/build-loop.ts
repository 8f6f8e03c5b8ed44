/**
 * Build and PRD loops: each iteration takes the first open checklist item,
 * asks the agent to implement only that item, then the harness — not the
 * model — runs the project checks. Pass: tick, commit, one progress line.
 * Fail: retry with the failure output; after `attempts` failures the item is
 * marked blocked and skipped. Ends plan-complete (prd-complete) when no open
 * item is left.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { describeCheck } from "../check-text.ts";
import { type IterationPlan, type RunContext, recordSideCall, type StopDecision, type Workflow } from "../engine.ts";
import type { CheckRecord, IterationRecord, WorkState } from "../types.ts";
import type { CommitMessageWriter } from "./commit-message.ts";
import { commitItem } from "./git-commit.ts";
import type { TaskSource } from "./tasks.ts";

export interface BuildOptions {
	cwd: string;
	tasks: TaskSource;
	instructions: string;
	attempts: number;
	progressFile: string;
	ending: "plan-complete" | "prd-complete";
	/** Writes commit message bodies with the commit role's model, when one is configured. */
	commitMessage?: CommitMessageWriter;
	/** Review rounds per item with --review (default 1). */
	reviewRounds: number;
}

function work(run: RunContext): WorkState {
	return run.state.work as WorkState;
}

function firstLine(text: string): string {
	return (
		text
			.split("\n")
			.find((l) => /fail|error|✗|not ok/i.test(l))
			?.trim()
			.slice(0, 160) ?? "checks failed"
	);
}

function appendProgress(cwd: string, file: string, line: string): void {
	const path = join(cwd, file);
	mkdirSync(dirname(path), { recursive: true });
	appendFileSync(path, `${line}\n`);
}

export function buildLoop(options: BuildOptions): Workflow {
	const { tasks } = options;
	const ending = options.ending;

	const verify = async (
		run: RunContext,
		record: IterationRecord,
		item: string,
		check: CheckRecord,
	): Promise<StopDecision | undefined> => {
		const w = work(run);
		const agentTicked = tasks.isDone(item);
		const review = check.exitCode === 0 ? await reviewVerdict(run, record, item) : "pass";
		if (review !== "pass") {
			if (agentTicked) tasks.setDone(item, false);
			return review === "abort" ? { reason: "aborted", detail: "the review pass was aborted" } : undefined;
		}
		if (check.exitCode === 0) {
			run.state.reviewFindings = undefined;
			tasks.setDone(item, true);
			record.completed = true;
			w.done.push(item);
			delete w.attempts[item];
			let commit: string | undefined;
			if (w.commit) {
				const summary = record.summary || "Implemented by a pi-loop-factory build iteration.";
				const plain = `${summary}\n\nChecks: ${run.state.check}`;
				const paths = [tasks.file, ...(w.pendingFiles ?? []).map((p) => `:(top)${p}`)];
				const result = await commitItem(options.cwd, item, paths, (diff) =>
					messageBody(run, record, item, diff, plain),
				);
				commit = result.commit;
				if (result.error) run.event({ type: "commit_failed", item, detail: result.error });
			}
			appendProgress(
				options.cwd,
				options.progressFile,
				`- ${new Date().toISOString().slice(0, 10)} done: ${item} — ${record.summary || "no notes"}`,
			);
			run.event({ type: "item_done", item, iteration: record.n, commit });
			w.pendingFiles = [];
			return undefined;
		}
		if (agentTicked) {
			tasks.setDone(item, false);
			run.event({
				type: "tick_overridden",
				item,
				iteration: record.n,
				detail: "the agent ticked the item but the checks fail",
			});
		}
		const attempts = (w.attempts[item] ?? 0) + 1;
		w.attempts[item] = attempts;
		if (attempts >= options.attempts) {
			const reason = `checks failed ${attempts} times (${firstLine(check.tail)})`;
			tasks.block(item, reason);
			w.blocked.push({ item, reason });
			delete w.attempts[item];
			run.event({ type: "item_blocked", item, iteration: record.n, reason });
			w.pendingFiles = [];
		} else {
			run.event({ type: "item_failed", item, iteration: record.n, attempt: attempts });
		}
		return undefined;
	};

	/** A review pass after passing checks (--review), at most `reviewRounds` per item. */
	const reviewVerdict = async (
		run: RunContext,
		record: IterationRecord,
		item: string,
	): Promise<"pass" | "block" | "abort"> => {
		const w = work(run);
		const rounds = w.reviews?.[item] ?? 0;
		if (!run.deps.review || rounds >= options.reviewRounds) return "pass";
		const call = await run.deps.review(record, item, run.signal);
		recordSideCall(run, { ...call, item });
		if (call.aborted || run.signal.aborted) return "abort"; // never tick an item whose review was cut off
		if (call.failed) {
			// A review model error does not hold the item back: the round is not used up, the failure is on record.
			run.event({ type: "review_failed", iteration: record.n, item, detail: call.findings });
			return "pass";
		}
		w.reviews = { ...w.reviews, [item]: rounds + 1 };
		if (!call.blocking) {
			run.state.reviewFindings = undefined;
			return "pass";
		}
		run.state.reviewFindings = call.findings;
		run.event({ type: "review_blocked", iteration: record.n, item, findings: call.findings });
		return "block";
	};

	const messageBody = async (
		run: RunContext,
		record: IterationRecord,
		item: string,
		diff: string,
		plain: string,
	): Promise<string> => {
		if (!options.commitMessage) return plain;
		try {
			const { body, call } = await options.commitMessage(item, diff, run.signal);
			recordSideCall(run, { ...call, iteration: record.n });
			return body ? `${body}\n\nChecks: ${run.state.check}` : plain;
		} catch (error) {
			run.event({ type: "commit_message_failed", iteration: record.n, item, detail: (error as Error).message });
			return plain;
		}
	};

	/** Items the agent ticked besides its own are not verified: they are unticked again. */
	const undoForeignTicks = (run: RunContext, record: IterationRecord, item: string) => {
		const before = [...(work(run).doneBefore ?? [])];
		for (const i of tasks.items().filter((x) => x.done)) {
			const k = before.indexOf(i.text);
			if (k !== -1) before.splice(k, 1);
			else if (i.text !== item) {
				tasks.setDone(i.text, false);
				run.event({
					type: "tick_overridden",
					item: i.text,
					iteration: record.n,
					detail:
						"ticked by the agent while working on another item; items are ticked only after the harness verifies them",
				});
			}
		}
	};

	return {
		async begin(run) {
			const w = work(run);
			const items = tasks.items();
			const next = tasks.open();
			w.current = next?.text;
			w.remaining = items.filter((i) => !i.done && i.blocked === undefined).map((i) => i.text);
			w.blockedInFile = items
				.filter((i) => i.blocked !== undefined)
				.map((i) => ({ item: i.text, reason: i.blocked as string }));
			run.save();
			if (next) return undefined;
			return {
				reason: ending,
				detail: `${w.done.length} done in this run, ${w.blockedInFile.length} blocked in ${tasks.file}`,
			};
		},

		async prepare(run, n): Promise<IterationPlan> {
			const w = work(run);
			const item = w.current as string;
			w.doneBefore = tasks
				.items()
				.filter((i) => i.done)
				.map((i) => i.text);
			const attempt = (w.attempts[item] ?? 0) + 1;
			const last = run.state.checks.at(-1);
			const retry = attempt > 1 && last !== undefined && last.exitCode !== 0;
			const items = tasks.items();
			const lines = [
				`# Build iteration ${n} of ${run.state.options.max}`,
				"",
				`## Your item (from ${tasks.file})`,
				item,
				"",
				"## Verification",
				`When you finish, the harness runs \`${run.state.check}\`; ` +
					`the item is ticked${w.commit ? " and committed" : ""} only if it passes.`,
				`This is attempt ${attempt} of ${options.attempts}.`,
			];
			if (retry && last)
				lines.push(
					"",
					`The previous attempt ${describeCheck(last)}. Last part of the output:`,
					"",
					"```text",
					last.tail.trimEnd(),
					"```",
				);
			if (run.state.reviewFindings)
				lines.push(
					"",
					"## Review findings to address first",
					"The checks passed, but a review blocked the item:",
					"",
					run.state.reviewFindings,
				);
			lines.push(
				"",
				"## Progress",
				`${items.filter((i) => i.done).length} done · ${items.filter((i) => i.blocked).length} blocked · ` +
					`${items.filter((i) => !i.done && !i.blocked).length} open`,
				"",
				"## Instructions",
				options.instructions,
			);
			return { prompt: lines.join("\n"), task: item, failures: retry ? last?.tail : undefined };
		},

		async finish(run, record) {
			const w = work(run);
			const item = w.current;
			if (!item) return undefined;
			undoForeignTicks(run, record, item);
			w.pendingFiles = [...new Set([...(w.pendingFiles ?? []), ...record.filesChanged])];
			if (record.agent !== "ok") {
				// The agent never finished (provider error, time limit): no attempt is counted against the item.
				if (tasks.isDone(item)) tasks.setDone(item, false);
				run.event({ type: "item_not_attempted", item, iteration: record.n, detail: record.error ?? record.agent });
				w.current = undefined;
				run.save();
				return undefined;
			}
			const check = await run.check();
			if (!check) return undefined; // aborted: the engine ends the run
			const decision = await verify(run, record, item, check);
			w.current = undefined;
			run.save();
			return decision;
		},
	};
}
