import { hmacSha256, loadConfig } from "@portal/platform";
import { purchaseEvent } from "@portal/server";
import { eventually, httpRequest } from "../support/portal";
import { type PortalProcess, startPortalProcess } from "../support/process-portal";

interface LogLine {
	svc?: string;
	mod?: string;
	msg?: string;
	requestId?: string;
}

/**
 * ARCHITECTURE rule 9: every log line written while handling a request carries its id, in every
 * service the request reaches, and the client gets the id back on success as on failure.
 */
describe("API: the request id in responses and logs", () => {
	let portal: PortalProcess;
	let url: string;
	// Debug, because the gateway logs each request at debug; identity logs the purchase at info.
	const env = { LOG_LEVEL: "debug", DATA_DIR: "memory://", NODE_ENV: "test", NAMESPACE: `reqid${process.pid}` };

	const lines = (): LogLine[] =>
		portal
			.output()
			.split("\n")
			.filter((line) => line.startsWith("{"))
			.map((line) => JSON.parse(line) as LogLine);
	const servicesLogging = (requestId: string): Set<string> =>
		new Set(
			lines()
				.filter((l) => l.requestId === requestId)
				.map((l) => l.svc ?? l.mod ?? ""),
		);

	beforeAll(async () => {
		portal = await startPortalProcess(env);
		url = portal.url;
	});

	afterAll(() => portal?.stop());

	it("ARCHITECTURE rule 9: the client's X-Request-ID comes back and is on the log lines of the gateway and of identity", async () => {
		const requestId = `purchase-${process.pid}-${Date.now()}`;
		const raw = JSON.stringify(purchaseEvent({ email: "traced@example.com", product: "RB9" }));
		const secret = loadConfig(env).purchaseWebhookSecret;
		const res = await httpRequest(`${url}/api/v1/hooks/purchases`, "POST", {
			raw,
			headers: { "Content-Type": "application/json", "X-OMTI-Signature": `sha256=${hmacSha256(secret, raw)}`, "X-Request-ID": requestId },
		});
		expect(res.status).toBe(202);
		expect(res.headers.get("x-request-id")).toBe(requestId);

		const services = await eventually(async () => {
			const seen = servicesLogging(requestId);
			return seen.has("gateway") && seen.has("identity") ? seen : undefined;
		}, "log lines of gateway and identity with the request id");
		expect(services).toEqual(expect.any(Set));
		const handled = lines().find((l) => l.msg === "purchase event handled");
		expect(handled?.requestId).toBe(requestId);
		// Lines outside any request (start-up) carry none.
		expect(lines().find((l) => l.msg?.includes("started"))?.requestId).toBeUndefined();
	});

	it("ARCHITECTURE rule 9: without X-Request-ID the gateway makes one, answers with it on success and on failure, and logs with it", async () => {
		const ok = await httpRequest(`${url}/api/v1/auth/password-reset`, "POST", { body: { email: "nobody@example.com" } });
		expect(ok.status).toBe(202);
		const generated = ok.headers.get("x-request-id") ?? "";
		expect(generated).toMatch(/^[0-9a-f-]{36}$/);
		const failed = await httpRequest(`${url}/api/v1/auth/sign-in`, "POST", { body: { login: "nobody", password: "not the password" } });
		expect(failed.status).toBe(401);
		const other = failed.headers.get("x-request-id") ?? "";
		expect(other).toMatch(/^[0-9a-f-]{36}$/);
		expect(other).not.toBe(generated);
		await eventually(async () => (servicesLogging(generated).has("gateway") ? true : undefined), "the gateway's line for the generated id");
	});
});
