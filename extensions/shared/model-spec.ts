/**
 * The shape of a model spec `provider/model-id[:thinking]` and the thinking
 * levels, shared by the config schema (shared) and role resolution (roles).
 */

export const THINKING_LEVELS = ["off", "minimal", "low", "medium", "high", "xhigh"] as const;
export type Thinking = (typeof THINKING_LEVELS)[number];

/** Pattern of one model spec. */
export const MODEL_SPEC_PATTERN = `^[^/\\s:]+/[^\\s]+?(:(${THINKING_LEVELS.join("|")}))?$`;
