import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { freePort } from "../support/portal";

/** The repository root: every replica runs `packages/server/src/start.ts` from here, as `npm start` does. */
const ROOT = resolve(__dirname, "../..");

/** One portal process (a "pod"): its services, health port and how it ended. */
export interface Replica {
	name: string;
	healthPort: number;
	child: ChildProcess;
	exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
	output(): string;
}

/** Starts a separate Node process running `SERVICES`, the way each Kubernetes Deployment does. */
export async function startReplica(name: string, env: Record<string, string>): Promise<Replica> {
	const healthPort = await freePort();
	const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, HEALTH_PORT: String(healthPort) };
	// Jest's VM-module flag is not for the replicas.
	delete childEnv.NODE_OPTIONS;
	const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "packages/server/src/start.ts"], {
		cwd: ROOT,
		env: childEnv,
		stdio: ["ignore", "pipe", "pipe"],
	});
	const lines: string[] = [];
	const keep = (chunk: Buffer) => {
		lines.push(chunk.toString("utf8"));
		if (lines.length > 200) lines.shift();
	};
	child.stdout?.on("data", keep);
	child.stderr?.on("data", keep);
	const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
		child.once("exit", (code, signal) => done({ code, signal })),
	);
	return { name, healthPort, child, exit, output: () => lines.join("") };
}

/** Waits until the replica's readiness probe says ready, as the kubelet does before routing traffic. */
export async function untilReady(replica: Replica, timeoutMs = 60_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	let exited = false;
	void replica.exit.then(() => {
		exited = true;
	});
	for (;;) {
		if (exited) throw new Error(`${replica.name} exited before it was ready:\n${replica.output()}`);
		try {
			const res = await fetch(`http://127.0.0.1:${replica.healthPort}/readyz`, { signal: AbortSignal.timeout(3_000) });
			if (res.status === 200) return;
		} catch {
			// Not listening yet.
		}
		if (Date.now() > deadline) throw new Error(`${replica.name} not ready after ${timeoutMs} ms:\n${replica.output()}`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

/** How many user-facing calls (not probes) this replica's services handled, from its own /metrics. */
export async function servedCalls(replica: Replica, service: string): Promise<number> {
	const text = await (await fetch(`http://127.0.0.1:${replica.healthPort}/metrics`)).text();
	let total = 0;
	for (const line of text.split("\n")) {
		const match = /^portal_calls_total\{([^}]*)\} (\d+)/.exec(line);
		if (!match?.[1] || !match[2]) continue;
		const action = /(?:^|,)action="([^"]+)"/.exec(match[1])?.[1] ?? "";
		if (action.startsWith(`${service}.`) && action !== `${service}.health`) total += Number(match[2]);
	}
	return total;
}

export async function stopAll(replicas: Iterable<Replica>): Promise<void> {
	await Promise.all(
		[...replicas].map(async (replica) => {
			if (replica.child.exitCode !== null || replica.child.signalCode !== null) return;
			replica.child.kill("SIGTERM");
			const timer = setTimeout(() => replica.child.kill("SIGKILL"), 15_000);
			await replica.exit;
			clearTimeout(timer);
		}),
	);
}
