import { hmacSha256, loadConfig } from "@portal/platform";
import { purchaseEvent } from "@portal/server";
import { eventually, httpRequest } from "../support/portal";
import { type PortalProcess, startPortalProcess } from "../support/process-portal";

/**
 * Nothing secret in the logs (issue 9): a portal process at `debug` level, driven through the whole
 * first thread, must not print the password, the activation token, the session token or a cookie.
 */
describe("security: logs", () => {
	let portal: PortalProcess;
	let url: string;
	const env = { LOG_LEVEL: "debug", DATA_DIR: "memory://", NODE_ENV: "test", NAMESPACE: `logs${process.pid}` };

	beforeAll(async () => {
		portal = await startPortalProcess(env);
		url = portal.url;
	});

	afterAll(() => portal?.stop());

	it("R31: passwords, tokens and cookies never appear in the log output, even at debug level", async () => {
		const secret = loadConfig(env).purchaseWebhookSecret;
		const raw = JSON.stringify(purchaseEvent({ email: "quiet@example.com", product: "RB9" }));
		await httpRequest(`${url}/api/v1/hooks/purchases`, "POST", {
			raw,
			headers: { "Content-Type": "application/json", "X-OMTI-Signature": `sha256=${hmacSha256(secret, raw)}` },
		});
		const mails = await eventually(async () => {
			const res = await httpRequest(`${url}/api/v1/dev/mailbox?to=quiet@example.com`, "GET");
			return Array.isArray(res.body) && res.body.length > 0 ? res.body : undefined;
		}, "the welcome mail");
		const activationToken = new URL(mails[0].links[0]).searchParams.get("token") ?? "";
		const password = "hushed stenographer ledger 77";
		const activated = await httpRequest(`${url}/api/v1/auth/activate`, "POST", { body: { token: activationToken, password } });
		expect(activated.status).toBe(200);
		const signIn = await httpRequest(`${url}/api/v1/auth/sign-in`, "POST", { body: { login: "quiet", password } });
		expect(signIn.status).toBe(200);
		const sessionToken: string = signIn.body.token;
		const cookie = signIn.setCookies.map((c) => c.split(";")[0]).join("; ");
		await httpRequest(`${url}/api/v1/me`, "GET", { headers: { Cookie: cookie } });
		await httpRequest(`${url}/api/v1/me`, "GET", { headers: { Authorization: `Bearer ${sessionToken}` } });
		await httpRequest(`${url}/api/v1/auth/sign-in`, "POST", { body: { login: "quiet", password: "wrong but logged? never" } });
		await new Promise((resolve) => setTimeout(resolve, 500));

		const logs = portal.output();
		expect(logs.length).toBeGreaterThan(1_000); // debug logging really happened
		for (const secretValue of [password, "wrong but logged? never", activationToken, sessionToken, secret]) {
			expect(logs).not.toContain(secretValue);
		}
		expect(logs).not.toMatch(/portal_session=[A-Za-z0-9_-]{20,}/);
	});
});
