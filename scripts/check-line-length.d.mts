/** Types for check-line-length.mjs (plain JS so npm test runs it with node alone). */
export interface LongLine {
	path: string;
	line: number;
	columns: number;
}
export const MAX_COLUMNS: number;
export function isChecked(path: string): boolean;
export function longLines(root: string, paths: string[], max?: number): LongLine[];
export function formatLongLine(found: LongLine): string;
