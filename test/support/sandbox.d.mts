/** Types for sandbox.mjs (plain JS so the demo and bench can use it without a TS loader). */
export interface Sandbox {
	root: string;
	project: string;
	agentDir: string;
	env: NodeJS.ProcessEnv;
}
export function createSandbox(prefix: string): Sandbox;
export function commitAll(project: string, env: NodeJS.ProcessEnv, message?: string): void;
