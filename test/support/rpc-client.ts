/**
 * A minimal client for `pi --mode rpc`: sends JSONL commands, splits stdout
 * on LF only (as the protocol requires), and collects every record so tests
 * can wait for responses, UI requests and messages.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { type Fixture, piArgs, piCommand, waitFor } from "./harness.ts";

export type RpcRecord = Record<string, any>;

export class RpcClient {
	readonly records: RpcRecord[] = [];
	readonly child: ChildProcess;
	stderr = "";
	private buffer = "";
	private nextId = 1;
	readonly exited: Promise<number | null>;

	constructor(fx: Fixture, extra: string[] = []) {
		const [command, args] = piCommand(piArgs(["--mode", "rpc"], extra));
		this.child = spawn(command, args, { cwd: fx.project, env: fx.env, stdio: ["pipe", "pipe", "pipe"] });
		this.child.stdout?.on("data", (chunk: Buffer) => this.onData(chunk.toString("utf8")));
		this.child.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk.toString("utf8")));
		this.exited = new Promise((resolve) => this.child.on("close", (code) => resolve(code)));
	}

	private onData(text: string): void {
		this.buffer += text;
		let newline = this.buffer.indexOf("\n");
		while (newline !== -1) {
			const line = this.buffer.slice(0, newline).replace(/\r$/, "");
			this.buffer = this.buffer.slice(newline + 1);
			if (line.trim() !== "") this.records.push(JSON.parse(line));
			newline = this.buffer.indexOf("\n");
		}
	}

	/** Sends a prompt; returns its request id. */
	prompt(message: string): string {
		const id = `req-${this.nextId++}`;
		this.child.stdin?.write(`${JSON.stringify({ id, type: "prompt", message })}\n`);
		return id;
	}

	async response(id: string, timeoutMs = 60_000): Promise<RpcRecord> {
		await waitFor(() => this.records.some((r) => r.type === "response" && r.id === id), timeoutMs, `response ${id}`);
		return this.records.find((r) => r.type === "response" && r.id === id) as RpcRecord;
	}

	uiRequests(method: string): RpcRecord[] {
		return this.records.filter((r) => r.type === "extension_ui_request" && r.method === method);
	}

	/** Custom loop messages that reached the client (message_end events). */
	loopMessages(): string[] {
		return this.records
			.filter((r) => r.type === "message_end" && r.message?.role === "custom" && r.message?.customType === "loop")
			.map((r) => String(r.message.content));
	}

	async close(): Promise<void> {
		this.child.stdin?.end();
		this.child.kill("SIGTERM");
		await this.exited;
	}
}
