/**
 * GitHub issues as the task queue of `/loop issues`, through the gh client of the core (only the invocations of its
 * contract): labelled open issues oldest first, loop state as labels, comments, and draft pull requests.
 */
import { type GhOptions, type GitHub, gitHub } from "../../core/github.ts";
import type { IntakeTask, TaskSource } from "./task-source.ts";

export function githubSource(
	repo: string | undefined,
	options: GhOptions = {},
): TaskSource & { repo(): Promise<string> } {
	const gh: GitHub = gitHub(options);
	let resolved: Promise<{ name: string; base: string }> | undefined;
	const view = () => {
		resolved ??= gh.viewRepo(repo).then((r) => ({ name: r.nameWithOwner, base: r.defaultBranch }));
		return resolved;
	};
	const name = async () => (await view()).name;
	return {
		name: repo ? `GitHub ${repo}` : "GitHub (the repository gh finds here)",
		repo: name,
		async check() {
			await gh.checkAuth();
			await view();
		},
		async defaultBase() {
			return (await view()).base;
		},
		async list(label, limit) {
			const issues = await gh.listIssues(await name(), label, limit);
			return issues.sort((a, b) => a.number - b.number);
		},
		async get(number) {
			const issue = await gh.viewIssue(await name(), number);
			return { ...issue, open: (issue.state ?? "OPEN").toUpperCase() === "OPEN" };
		},
		async delivered(branch) {
			const prs = await gh.listPullRequests(await name(), branch);
			return prs.some((pr) => pr.state.toUpperCase() === "OPEN" && pr.headRefName === branch);
		},
		async mark(task: IntakeTask, change) {
			if (!change.add && !change.remove) return;
			await gh.editIssueLabels(await name(), task.number, change);
		},
		async comment(task, body) {
			await gh.commentOnIssue(await name(), task.number, body);
		},
		async deliver(_task, delivery) {
			const pr = await gh.createDraftPullRequest(await name(), {
				base: delivery.base,
				head: delivery.branch,
				title: delivery.title,
				body: delivery.body,
			});
			return { url: pr.url };
		},
	};
}
