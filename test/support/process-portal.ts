import { spawn } from "node:child_process";
import { once } from "node:events";
import { eventually, freePort } from "./portal";

export interface PortalProcess {
	url: string;
	/** Everything the process wrote to stdout and stderr so far (its log lines). */
	output(): string;
	/** Sends SIGTERM, as Kubernetes does, and resolves with the exit code. */
	stop(): Promise<number | null>;
}

/** `npm start`'s entry: the TypeScript sources through tsx. */
const SOURCE_ENTRY = ["node_modules/.bin/tsx", "--conditions=source", "packages/server/src/start.ts"];

/**
 * The whole portal as a real child process, for tests that read its logs or its exit. `entry` is the
 * command that starts it (the bundle the image runs, say); by default `npm start`'s.
 */
export async function startPortalProcess(env: Record<string, string>, entry = SOURCE_ENTRY): Promise<PortalProcess> {
	const port = await freePort();
	const url = `http://127.0.0.1:${port}`;
	let output = "";
	const [command, ...args] = entry as [string, ...string[]];
	const child = spawn(command, args, {
		env: { ...process.env, ...env, PORT: String(port) },
		stdio: ["ignore", "pipe", "pipe"],
	});
	const collect = (chunk: Buffer) => {
		output += chunk.toString();
	};
	child.stdout?.on("data", collect);
	child.stderr?.on("data", collect);
	await eventually(
		async () => {
			if (child.exitCode !== null) throw new Error(`the portal exited (${child.exitCode}):\n${output}`);
			return (await fetch(`${url}/readyz`).catch(() => undefined))?.ok ? true : undefined;
		},
		"the portal",
		60_000,
	);
	return {
		url,
		output: () => output,
		async stop() {
			if (child.exitCode !== null) return child.exitCode;
			child.kill("SIGTERM");
			const [code] = (await once(child, "exit")) as [number | null];
			return code;
		},
	};
}
