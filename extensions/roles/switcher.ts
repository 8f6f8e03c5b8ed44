/**
 * Switching the session's model from code that outlives an extension
 * instance (a loop's command handler). pi rebuilds extensions on every new
 * session and the old `pi` goes stale, so each roles-extension instance
 * registers its live `pi` here on session start, and a model requested for
 * "the next session" is applied by the instance that session creates.
 */
import type { Api, Model } from "@mariozechner/pi-ai";
import type { ExtensionContext } from "@mariozechner/pi-coding-agent";
import type { Thinking } from "../shared/model-spec.ts";
import { processWide } from "../shared/process-wide.ts";

/** Footer status key naming the active role. */
export const ROLE_STATUS_KEY = "role";

export interface ModelChoice {
	model: Model<Api>;
	thinking?: Thinking;
	/** Role name shown in the footer. */
	role?: string;
}

interface Switcher {
	apply(choice: ModelChoice): Promise<boolean>;
}

interface SwitchBoard {
	live?: Switcher;
	pending?: ModelChoice;
	activeRole?: string;
	/** The user's own choice before the first /role switch, for /role restore. */
	beforeFirstSwitch?: ModelChoice;
}

function board(): SwitchBoard {
	return processWide<SwitchBoard>("model-switchboard", () => ({}));
}

export function registerSwitcher(switcher: Switcher): void {
	board().live = switcher;
}

/** Applies a choice to the current session; false when no roles extension is live or pi refused (no key). */
export async function switchNow(choice: ModelChoice): Promise<boolean> {
	const live = board().live;
	if (!live) return false;
	const ok = await live.apply(choice);
	if (ok) board().activeRole = choice.role;
	return ok;
}

export function setPendingForNextSession(choice: ModelChoice | undefined): void {
	board().pending = choice;
}

export function takePending(): ModelChoice | undefined {
	const b = board();
	const pending = b.pending;
	b.pending = undefined;
	return pending;
}

export function setActiveRole(role: string | undefined): void {
	board().activeRole = role;
}

/** The footer names the active role (nothing when the user's own model is in use). */
export function showRoleStatus(ctx: ExtensionContext): void {
	if (!ctx.hasUI) return;
	const role = board().activeRole;
	ctx.ui.setStatus(ROLE_STATUS_KEY, role ? `role ${role}` : undefined);
}

/** Remembers the user's own model once, before the first role switch. */
export function rememberUserChoice(choice: ModelChoice | undefined): void {
	const b = board();
	if (!b.beforeFirstSwitch && choice) b.beforeFirstSwitch = choice;
}

export function takeUserChoice(): ModelChoice | undefined {
	const b = board();
	const choice = b.beforeFirstSwitch;
	b.beforeFirstSwitch = undefined;
	return choice;
}
