/**
 * Test-only pi extension: says which pi-coding-agent module this checkout's
 * `@mariozechner/*` imports reach. Under pi 1.x they must be pi's own
 * (mapped), not the 0.73.1 devDependency in this checkout's node_modules.
 */
import { VERSION } from "@mariozechner/pi-coding-agent";

export default function hostProbe(): void {
	process.stderr.write(`host-probe: @mariozechner/pi-coding-agent ${VERSION}\n`);
}
