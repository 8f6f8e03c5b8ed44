/**
 * Usage errors of blueprint runs (exit 2, nothing runs): a blueprint that
 * cannot be found, or a script that does not parse or load. Kept apart so the
 * command module can recognize them without loading jiti.
 */
export class BlueprintNotFound extends Error {}

/** The message names file:line:column where the script could not be parsed or loaded. */
export class BlueprintLoadError extends Error {}
