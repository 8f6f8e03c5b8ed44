/**
 * Unit tests: loading and running blueprint scripts with jiti — syntax errors as file:line:column, the global
 * `factory`, top-level await, default-exported functions, and modules that cannot be found.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Factory } from "../../extensions/core/factory-api.ts";
import { BlueprintLoadError } from "../../extensions/loop/blueprint/blueprint-errors.ts";
import { checkSyntax, runScript } from "../../extensions/loop/blueprint/script-loader.ts";
import { tempTree } from "../support/temp-tree.ts";

type Global = typeof globalThis & { factory?: unknown };

/** A stand-in factory: scripts call `log` and `exec`, the test reads `calls`. */
function fakeFactory() {
	const calls: unknown[][] = [];
	const factory = {
		runId: "r",
		exec: async (command: string) => {
			calls.push(["exec", command]);
			await new Promise((resolve) => setTimeout(resolve, 5));
			return { exitCode: 0 };
		},
		observe: { log: (level: string, message: string) => calls.push(["log", level, message]) },
	} as unknown as Factory;
	return { factory, calls };
}

const scripts = (files: Record<string, string>) => {
	const dir = tempTree("script-loader-", files);
	return (name: string) => join(dir, name);
};

afterEach(() => {
	delete (globalThis as Global).factory;
});

describe("checkSyntax", () => {
	it("accepts TypeScript and JavaScript that parse", () => {
		const file = scripts({
			"ok.ts": "interface X { n: number }\nconst x: X = { n: 1 };\nawait Promise.resolve(x);\n",
			"ok.mjs": "export default async function (f) { await f.exec('ls'); }\n",
		});
		expect(() => checkSyntax(file("ok.ts"))).not.toThrow();
		expect(() => checkSyntax(file("ok.mjs"))).not.toThrow();
	});

	it("names file:line:column of a syntax error", () => {
		const file = scripts({ "bad.ts": "const a = 1;\nconst b = ;\n" });
		expect(() => checkSyntax(file("bad.ts"))).toThrow(BlueprintLoadError);
		expect(() => checkSyntax(file("bad.ts"))).toThrow(new RegExp(`^${file("bad.ts")}:2:\\d+: syntax error: .+`));
	});

	it("refuses TypeScript syntax in a .js file", () => {
		const file = scripts({ "typed.js": "const x: number = 1;\n" });
		expect(() => checkSyntax(file("typed.js"))).toThrow(/typed\.js:1:\d+: syntax error/);
	});
});

describe("runScript", () => {
	it("runs a TypeScript script with top-level await and a global factory, and waits for it", async () => {
		const file = scripts({
			"main.ts": [
				'import { join } from "node:path";',
				"const r: { exitCode: number } = await factory.exec(join('a', 'b'));",
				'factory.observe.log("info", "exit " + r.exitCode);',
				"",
			].join("\n"),
		});
		const { factory, calls } = fakeFactory();
		await runScript(file("main.ts"), factory, []);
		expect(calls).toEqual([
			["exec", join("a", "b")],
			["log", "info", "exit 0"],
		]);
	});

	it("calls a default-exported function with (factory, args) and waits for it", async () => {
		const file = scripts({
			"fn.ts": [
				'import type { Factory } from "pi-loop-factory";',
				"export default async function (f: Factory, args: string[]) {",
				"	await f.exec(args.join(' '));",
				'	f.observe.log("info", String(f === factory));',
				"}",
				"",
			].join("\n"),
		});
		const { factory, calls } = fakeFactory();
		await runScript(file("fn.ts"), factory, ["x", "y"]);
		expect(calls).toEqual([
			["exec", "x y"],
			["log", "info", "true"],
		]);
	});

	it("imports sibling modules, and loads the script afresh on every run", async () => {
		const file = scripts({
			"lib.mts": "export const name = 'lib';\n",
			"uses.mjs": "import { name } from './lib.mts';\nfactory.observe.log('info', name);\n",
		});
		const { factory, calls } = fakeFactory();
		await runScript(file("uses.mjs"), factory, []);
		await runScript(file("uses.mjs"), factory, []);
		expect(calls).toEqual([
			["log", "info", "lib"],
			["log", "info", "lib"],
		]);
	});

	it("restores the previous global factory afterwards, also when the script throws", async () => {
		const file = scripts({ "ok.ts": "factory.runId;\n", "throws.ts": "throw new Error('script says no');\n" });
		const previous = { mine: true };
		(globalThis as Global).factory = previous;
		await runScript(file("ok.ts"), fakeFactory().factory, []);
		expect((globalThis as Global).factory).toBe(previous);
		await expect(runScript(file("throws.ts"), fakeFactory().factory, [])).rejects.toThrow("script says no");
		expect((globalThis as Global).factory).toBe(previous);
	});

	it("passes what the script or its default function throws through as it is", async () => {
		const file = scripts({ "fn.ts": "export default async () => { throw new RangeError('too far'); };\n" });
		const error = await runScript(file("fn.ts"), fakeFactory().factory, []).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(RangeError);
		expect(error).not.toBeInstanceOf(BlueprintLoadError);
	});

	it("makes a module that cannot be found a BlueprintLoadError naming the script", async () => {
		const file = scripts({
			"missing.ts": "import { x } from './nowhere.ts';\nfactory.observe.log('info', x);\n",
			"package.ts": "import 'no-such-package-for-pi-loop-factory';\n",
		});
		const { factory, calls } = fakeFactory();
		for (const name of ["missing.ts", "package.ts"]) {
			const error = await runScript(file(name), factory, []).catch((e: unknown) => e);
			expect(error, name).toBeInstanceOf(BlueprintLoadError);
			expect((error as Error).message.startsWith(`${file(name)}: `)).toBe(true);
		}
		expect(calls).toEqual([]);
	});

	it("refuses a script with a syntax error before running any of it", async () => {
		const file = scripts({ "half.ts": "factory.observe.log('info', 'ran');\nconst = 1;\n" });
		const { factory, calls } = fakeFactory();
		await expect(runScript(file("half.ts"), factory, [])).rejects.toThrow(/half\.ts:2:\d+: syntax error/);
		expect(calls).toEqual([]);
	});
});
