// A stand-in language server that only pushes diagnostics (as gopls and
// rust-analyzer do), for tests: after each didOpen/didChange it first
// publishes a stale result for the previous version, then, 50 ms later, the
// real one — one error when the text contains "ERR", none otherwise. A text
// with "SPLIT" gets its real result in two parts of the same version, as
// rust-analyzer publishes syntax and semantic diagnostics: none, then 30 ms
// later the error.
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node.js";

const connection = createMessageConnection(
	new StreamMessageReader(process.stdin),
	new StreamMessageWriter(process.stdout),
);
connection.onRequest("initialize", () => ({ capabilities: { textDocumentSync: 1 } }));
connection.onRequest("shutdown", () => null);
connection.onNotification("exit", () => process.exit(0));
const publish = (uri, version, text) => {
	const diagnostics = text.includes("ERR")
		? [
				{
					range: { start: { line: 0, character: 4 }, end: { line: 0, character: 7 } },
					severity: 1,
					code: "E1",
					message: "pushed error",
				},
			]
		: [];
	connection.sendNotification("textDocument/publishDiagnostics", { uri, version, diagnostics });
};
const changed = (uri, version, text) => {
	publish(uri, version - 1, "ERR stale");
	setTimeout(() => publish(uri, version, text.includes("SPLIT") ? "" : text), 50);
	if (text.includes("SPLIT")) setTimeout(() => publish(uri, version, text), 80);
};
connection.onNotification("textDocument/didOpen", ({ textDocument: d }) => changed(d.uri, d.version, d.text));
connection.onNotification("textDocument/didChange", ({ textDocument: d, contentChanges }) =>
	changed(d.uri, d.version, contentChanges.at(-1).text),
);
connection.listen();
