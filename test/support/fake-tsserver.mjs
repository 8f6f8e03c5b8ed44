// A stand-in for TypeScript's lib/tsserver.js, for tests: speaks tsserver's
// protocol (one JSON request per stdin line; Content-Length framed answers)
// and judges an open file by its text: "CRASH" exits the process, "HANG"
// never answers the diagnostics request, "ERR" gives one TS2322 error,
// anything else none. Before each real answer it sends an event, a response
// to a request never made, and writes the answer in two pieces split inside
// a multi-byte character — what the client has to cope with.
import { createInterface } from "node:readline";

const texts = new Map();

function frame(message) {
	const json = `${JSON.stringify(message)}\n`;
	return Buffer.concat([
		Buffer.from(`Content-Length: ${Buffer.byteLength(json, "utf8")}\r\n\r\n`),
		Buffer.from(json, "utf8"),
	]);
}

/** Answers go out one after another, as tsserver's do, even though each is written in two pieces. */
let output = Promise.resolve();

function answer(request, body) {
	output = output.then(async () => {
		process.stdout.write(frame({ seq: 0, type: "event", event: "projectLoadingStart", body: { projectName: "x" } }));
		const stray = [{ start: { line: 9, offset: 9 }, text: "not yours", code: 1, category: "error" }];
		const other = {
			seq: 0,
			type: "response",
			command: request.command,
			request_seq: request.seq + 1000,
			success: true,
		};
		process.stdout.write(frame({ ...other, body: stray }));
		const bytes = frame({
			seq: 0,
			type: "response",
			command: request.command,
			request_seq: request.seq,
			success: true,
			body,
		});
		const cut = bytes.indexOf(Buffer.from("é")) + 1; // inside the two bytes of "é"
		process.stdout.write(bytes.subarray(0, cut));
		await new Promise((resolve) => setTimeout(resolve, 5));
		process.stdout.write(bytes.subarray(cut));
	});
}

createInterface({ input: process.stdin }).on("line", (line) => {
	const request = JSON.parse(line);
	const args = request.arguments ?? {};
	if (request.command === "updateOpen") {
		for (const f of args.openFiles ?? []) texts.set(f.file, f.fileContent);
		for (const f of args.changedFiles ?? []) texts.set(f.fileName, f.textChanges.at(-1).newText);
		for (const f of args.closedFiles ?? []) texts.delete(f);
		answer(request, true);
	} else if (request.command === "syntacticDiagnosticsSync") {
		answer(request, []);
	} else if (request.command === "semanticDiagnosticsSync") {
		const text = texts.get(args.file) ?? "";
		if (text.includes("CRASH")) process.exit(3);
		if (text.includes("HANG")) return;
		answer(
			request,
			text.includes("ERR")
				? [
						{
							start: { line: 1, offset: 14 },
							text: "Type 'string' is not assignable to type 'number' (café).",
							code: 2322,
							category: "error",
						},
					]
				: [],
		);
	} else if (request.command !== "exit" && request.command !== "reloadProjects") {
		process.stdout.write(
			frame({
				seq: 0,
				type: "response",
				command: request.command,
				request_seq: request.seq,
				success: false,
				message: `Unrecognized JSON command: ${request.command}`,
			}),
		);
	}
});
