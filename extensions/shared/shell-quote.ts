/**
 * Quoting for POSIX shells: an argument as `sh` reads it back unchanged
 * (gates' `{files}`, a blueprint's arguments shown in status and report).
 */
export function shellQuote(arg: string): string {
	return /^[\w./@%+=:,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Arguments as one command-line text. */
export function shellWords(args: readonly string[]): string {
	return args.map(shellQuote).join(" ");
}
