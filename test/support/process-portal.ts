import { spawn } from "node:child_process";
import { once } from "node:events";
import { eventually, freePort } from "./portal";

export interface PortalProcess {
	url: string;
	/** Everything the process wrote to stdout and stderr so far (its log lines). */
	output(): string;
	stop(): Promise<void>;
}

/** The whole portal as a real child process (`npm start`'s entry), for tests that read its logs. */
export async function startPortalProcess(env: Record<string, string>): Promise<PortalProcess> {
	const port = await freePort();
	const url = `http://127.0.0.1:${port}`;
	let output = "";
	const child = spawn("node_modules/.bin/tsx", ["--conditions=source", "packages/server/src/start.ts"], {
		env: { ...process.env, ...env, PORT: String(port) },
		stdio: ["ignore", "pipe", "pipe"],
	});
	const collect = (chunk: Buffer) => {
		output += chunk.toString();
	};
	child.stdout?.on("data", collect);
	child.stderr?.on("data", collect);
	await eventually(async () => ((await fetch(`${url}/readyz`).catch(() => undefined))?.ok ? true : undefined), "the portal", 60_000);
	return {
		url,
		output: () => output,
		async stop() {
			if (child.exitCode !== null) return;
			child.kill("SIGTERM");
			await once(child, "exit");
		},
	};
}
