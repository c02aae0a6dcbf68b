import { createServer } from "node:net";
import type { PurchaseEvent } from "@portal/contracts";
import { hmacSha256, loadConfig, type PortalConfig } from "@portal/platform";
import { migrateAll, purchaseEvent, startPortal } from "@portal/server";
import type { ServiceBroker } from "moleculer";
import { createTestInfra, type TestInfra } from "./infra";

export interface Mail {
	to: string;
	from: string;
	subject: string;
	text: string;
	html: string;
	headers: Record<string, string>;
	links: string[];
	template: string;
}

/** What a test does against a running portal over HTTP, wherever it runs (this process or another). */
export interface PortalClient {
	url: string;
	/** fetch against the portal, JSON in and out. */
	request(method: string, path: string, opts?: { body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<TestResponse>;
	/** Posts a purchase event through the signed webhook. */
	purchase(event: PurchaseEvent): Promise<TestResponse>;
	/** Waits until `to` has at least `count` captured mails, newest first. */
	mailsFor(to: string, count?: number): Promise<Mail[]>;
}

export interface TestPortal extends PortalClient {
	broker: ServiceBroker;
	config: PortalConfig;
	infra: TestInfra;
	stop(): Promise<void>;
}

export interface TestResponse {
	status: number;
	headers: Headers;
	body: any;
	setCookies: string[];
}

export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
		});
	});
}

export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

export async function httpRequest(
	url: string,
	method: string,
	opts: { body?: unknown; headers?: Record<string, string>; raw?: string | Buffer } = {},
): Promise<TestResponse> {
	const headers: Record<string, string> = { ...(opts.headers ?? {}) };
	let body: string | Buffer | undefined;
	if (opts.raw !== undefined) body = opts.raw;
	else if (opts.body !== undefined) {
		body = JSON.stringify(opts.body);
		headers["Content-Type"] ??= "application/json";
	}
	const response = await fetch(url, { method, headers, body, redirect: "manual" });
	const text = await response.text();
	let parsed: unknown = text;
	try {
		parsed = text ? JSON.parse(text) : undefined;
	} catch {
		// Not JSON: keep the text.
	}
	return { status: response.status, headers: response.headers, body: parsed, setCookies: response.headers.getSetCookie() };
}

/** The whole portal in this process, on its own port, database and namespace. */
/**
 * `infra`: join the database, namespace and servers of an already started portal (a second replica,
 * test:infra); that portal's owner cleans them up, so this one's `stop()` only stops its broker.
 */
export async function startTestPortal(
	opts: { env?: Record<string, string>; services?: string[]; infra?: TestInfra } = {},
): Promise<TestPortal> {
	const infra = opts.infra ?? (await createTestInfra());
	const port = await freePort();
	const config = loadConfig({
		NODE_ENV: "test",
		PORT: String(port),
		LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
		...infra.env,
		...(opts.services ? { SERVICES: opts.services.join(",") } : {}),
		...opts.env,
	});
	// With Postgres, migrations are a step before the services start, as in production.
	if (config.databaseUrl) await migrateAll(config);
	const broker = await startPortal(config);
	return {
		...portalClient(`http://127.0.0.1:${port}`, config),
		broker,
		config,
		infra,
		async stop() {
			await broker.stop();
			if (!opts.infra) await infra.cleanup();
		},
	};
}

/** HTTP access to the portal at `url`, which was started with `config` (its webhook secret signs purchases). */
export function portalClient(url: string, config: PortalConfig): PortalClient {
	const request: PortalClient["request"] = (method, path, o) => httpRequest(`${url}${path}`, method, o);
	return {
		url,
		request,
		purchase(event) {
			const raw = JSON.stringify(event);
			return httpRequest(`${url}/api/v1/hooks/purchases`, "POST", {
				raw,
				headers: { "Content-Type": "application/json", "X-OMTI-Signature": `sha256=${hmacSha256(config.purchaseWebhookSecret, raw)}` },
			});
		},
		async mailsFor(to, count = 1) {
			return eventually(async () => {
				const res = await request("GET", `/api/v1/dev/mailbox?to=${encodeURIComponent(to)}`);
				return Array.isArray(res.body) && res.body.length >= count ? (res.body as Mail[]) : undefined;
			}, `${count} mail(s) to ${to}`);
		},
	};
}

export { purchaseEvent };

/** Activates the account from its welcome mail and signs in; returns the bearer token and cookies. */
export async function activatedAccount(portal: PortalClient, email: string, password = "correct horse battery staple 42") {
	const res = await portal.purchase(purchaseEvent({ email, product: "RB9" }));
	if (res.status !== 202) throw new Error(`purchase failed: ${res.status} ${JSON.stringify(res.body)}`);
	const [welcome] = await portal.mailsFor(email);
	const token = new URL(welcome?.links[0] ?? "").searchParams.get("token");
	const activated = await portal.request("POST", "/api/v1/auth/activate", { body: { token, password } });
	if (activated.status !== 200) throw new Error(`activation failed: ${activated.status} ${JSON.stringify(activated.body)}`);
	return { account: activated.body.account, token: activated.body.token as string, password, setCookies: activated.setCookies };
}

/** A staff member the way operators make one (`npm run staff` calls identity.createStaff), signed in. */
export async function staffSession(
	portal: TestPortal,
	email: string,
	role: "support" | "compliance" | "admin",
	password = "staff horse battery staple 42",
): Promise<{ id: string; token: string }> {
	const created = await portal.broker.call<{ accountId: string; setPasswordUrl: string }, { email: string; role: string }>(
		"identity.createStaff",
		{
			email,
			role,
		},
	);
	const token = new URL(created.setPasswordUrl).searchParams.get("token");
	const activated = await portal.request("POST", "/api/v1/auth/activate", { body: { token, password } });
	if (activated.status !== 200) throw new Error(`staff activation failed: ${activated.status} ${JSON.stringify(activated.body)}`);
	return { id: created.accountId, token: activated.body.token as string };
}
