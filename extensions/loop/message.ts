/**
 * The loop's custom message type and its details, shared by the renderer
 * (index.ts, loaded on every session) and the progress view. Kept tiny on
 * purpose: index.ts must stay cheap to load.
 */
export const MESSAGE_TYPE = "loop";

export interface LoopMessageDetails {
	runId?: string;
	kind: "iteration" | "summary";
	files?: string[];
	reportPath?: string;
}
