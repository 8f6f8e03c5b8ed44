/** Types for gh-standin-install.mjs (plain JS, like the stand-in it installs). */
export interface StandinIssue {
	number: number;
	title: string;
	body?: string;
	labels?: string[];
	/** "open" / "OPEN" or "closed" / "CLOSED"; open when left out. */
	state?: string;
	url?: string;
	comments?: { body: string }[];
}
export interface StandinPullRequest {
	number: number;
	url: string;
	state: string;
	headRefName: string;
	baseRefName?: string;
	title?: string;
	body?: string;
	isDraft?: boolean;
}
export interface StandinState {
	repo: { nameWithOwner: string; defaultBranch: string };
	issues: StandinIssue[];
	prs: StandinPullRequest[];
	/** Every call the contract allows, in order (failed ones too). */
	calls: string[][];
	/** Every other call. */
	rejected: string[][];
}
export const GH_STANDIN: string;
export function installGhStandin(
	dir: string,
	statePath: string,
	initial?: Partial<StandinState>,
): { PATH: string; GH_STANDIN_STATE: string };
export function readGhStandinState(statePath: string): StandinState;
