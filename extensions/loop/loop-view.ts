/**
 * Where loop progress goes in each pi mode. With a UI (interactive, RPC):
 * a widget with the trend, a footer status, notifications, and compact
 * custom messages at iteration boundaries. Without one (print/json mode):
 * one line per event on stderr. The final summary is always a message.
 */
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import type { LoopView } from "./engine.ts";
import type { ReplacedSessionContext } from "./iteration-session.ts";
import { type LoopMessageDetails, MESSAGE_TYPE } from "./message.ts";
import type { LoopState } from "./types.ts";
import { succeeded } from "./types.ts";
import { checkLine, iterationLine, statusText, summaryText, widgetLines } from "./view.ts";

const UI_KEY = "loop";

interface SessionSource {
	readonly current: ExtensionContext;
	readonly replacedContext: ReplacedSessionContext | undefined;
}

/** UI calls on a context that was just replaced throw; progress display must never break the loop. */
function safely(fn: () => void): void {
	try {
		fn();
	} catch {
		// stale context during a session switch
	}
}

export function createLoopView(pi: ExtensionAPI, sessions: SessionSource, hasUI: boolean): LoopView {
	let lastTick = 0;
	const ui = () => sessions.current.ui;
	const log = (line: string) => process.stderr.write(`[loop] ${line}\n`);
	const refresh = (state: LoopState, elapsedMs: number) =>
		safely(() => {
			ui().setWidget(UI_KEY, widgetLines(state, elapsedMs));
			ui().setStatus(UI_KEY, statusText(state));
		});
	const post = async (content: string, details: LoopMessageDetails) => {
		const message = { customType: MESSAGE_TYPE, content, display: true, details };
		const replaced = sessions.replacedContext;
		try {
			if (replaced) await replaced.sendMessage(message);
			else pi.sendMessage(message);
		} catch {
			// the session is being replaced; the state files still have it all
		}
	};

	return {
		onCheck(state, check) {
			if (hasUI) refresh(state, state.elapsedMs);
			else log(checkLine(state, check));
		},
		onIterationStart(state) {
			const n = state.current?.n ?? 0;
			if (hasUI) refresh(state, state.elapsedMs);
			else log(`iteration ${n}/${state.options.max} started`);
		},
		async onIterationEnd(state, it) {
			const line = iterationLine(state, it);
			if (hasUI) refresh(state, state.elapsedMs);
			else log(line);
			await post(line, { runId: state.runId, kind: "iteration", files: it.filesChanged });
		},
		async onEnd(state, reportPath) {
			const text = summaryText(state, reportPath);
			const ok = succeeded(state);
			if (hasUI) {
				safely(() => {
					ui().setWidget(UI_KEY, undefined);
					ui().setStatus(UI_KEY, undefined);
					ui().notify(text.split("\n")[0] as string, ok ? "info" : "warning");
				});
			} else {
				log(text);
			}
			await post(text, { runId: state.runId, kind: "summary", reportPath });
		},
		onTick(state, elapsedMs) {
			if (!hasUI || Date.now() - lastTick < 1000) return;
			lastTick = Date.now();
			refresh(state, elapsedMs);
		},
	};
}
