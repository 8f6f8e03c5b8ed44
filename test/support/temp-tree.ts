/** Temp directories with given files, for unit tests. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** A new temp directory holding `files` (path → text); a null text is an empty executable file. */
export function tempTree(prefix: string, files: Record<string, string | null>): string {
	const dir = mkdtempSync(join(tmpdir(), prefix));
	for (const [path, text] of Object.entries(files)) {
		mkdirSync(dirname(join(dir, path)), { recursive: true });
		writeFileSync(join(dir, path), text ?? "", { mode: text === null ? 0o755 : 0o644 });
	}
	return dir;
}
