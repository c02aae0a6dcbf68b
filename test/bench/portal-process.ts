import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hmacSha256, loadConfig } from "@portal/platform";
import { migrateAll, purchaseEvent } from "@portal/server";
import { freePort } from "../support/portal";
import { startPortalProcess, stop, waitFor } from "./harness";
export const PASSWORD = "bench stenographer ribbon 2026";

export interface RunningPortal {
	url: string;
	env: Record<string, string>;
	processes: ChildProcess[];
	/** What each process runs, in the order of `processes`. */
	roles: string[];
	/** Each process's own probe and metrics port (separate processes only), in the order started. */
	healthPorts?: number[];
	stop(): Promise<void>;
}

/** The whole portal in one process on embedded defaults, pinned to the system core. */
export async function embeddedPortal(): Promise<RunningPortal> {
	const port = await freePort();
	const dataDir = mkdtempSync(join(tmpdir(), "portal-bench-"));
	const env = { PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: "warn", NODE_ENV: "test" };
	const child = startPortalProcess(env);
	const url = `http://127.0.0.1:${port}`;
	return readyOrStopped({
		url,
		env,
		processes: [child],
		roles: ["portal"],
		async stop() {
			await stop(child);
			rmSync(dataDir, { recursive: true, force: true });
		},
	});
}

/** Gateway and each service in its own process over NATS, on the given (fresh) infrastructure env. */
export async function separatePortal(infraEnv: Record<string, string>, services: string[]): Promise<RunningPortal> {
	const port = await freePort();
	const env = { ...infraEnv, PORT: String(port), LOG_LEVEL: "warn", NODE_ENV: "test" };
	await migrateAll(loadConfig(env));
	const healthPorts: number[] = [];
	for (const _ of services) healthPorts.push(await freePort());
	const processes = services.map((name, i) => startPortalProcess({ ...env, SERVICES: name, HEALTH_PORT: String(healthPorts[i]) }));
	return readyOrStopped({
		url: `http://127.0.0.1:${port}`,
		env,
		processes,
		roles: services,
		healthPorts,
		async stop() {
			await Promise.all(processes.map((p) => stop(p)));
		},
	});
}

/** Waits until the portal answers ready; if it never does, stops its processes rather than leaving them behind. */
async function readyOrStopped(portal: RunningPortal): Promise<RunningPortal> {
	try {
		await waitFor(`${portal.url}/readyz`);
		return portal;
	} catch (err) {
		await portal.stop();
		throw err;
	}
}

/** A signed-in customer: purchase → welcome mail → activate; returns the bearer token. */
export async function provisionAccount(portal: RunningPortal, email: string): Promise<string> {
	const secret = loadConfig(portal.env).purchaseWebhookSecret;
	const raw = JSON.stringify(purchaseEvent({ email, product: "RB9", givenName: "Bench" }));
	const hook = await fetch(`${portal.url}/api/v1/hooks/purchases`, {
		method: "POST",
		headers: { "Content-Type": "application/json", "X-OMTI-Signature": `sha256=${hmacSha256(secret, raw)}` },
		body: raw,
	});
	if (hook.status !== 202) throw new Error(`purchase: ${hook.status}`);
	let link: string | undefined;
	for (let i = 0; i < 200 && !link; i++) {
		const mails = (await (await fetch(`${portal.url}/api/v1/dev/mailbox?to=${encodeURIComponent(email)}`)).json()) as { links: string[] }[];
		link = mails[0]?.links[0];
		if (!link) await new Promise((resolve) => setTimeout(resolve, 100));
	}
	const token = new URL(link ?? "").searchParams.get("token");
	const activated = await fetch(`${portal.url}/api/v1/auth/activate`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify({ token, password: PASSWORD }),
	});
	if (activated.status !== 200) throw new Error(`activate: ${activated.status} ${await activated.text()}`);
	return ((await activated.json()) as { token: string }).token;
}
