import { get } from "node:http";
import { purchaseEvent } from "@portal/server";
import { activatedAccount, eventually, httpRequest, startTestPortal, type TestPortal } from "../../test/support/portal";

/** The edge: problem+json for every failure, body limits, signatures, CSRF, headers, probes (R31). */
describe("gateway", () => {
	let portal: TestPortal;
	beforeAll(async () => {
		portal = await startTestPortal();
	});
	afterAll(() => portal?.stop());

	const expectProblem = (res: { status: number; headers: Headers; body: any }, status: number, code: string) => {
		expect(res.status).toBe(status);
		expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
		expect(res.body).toMatchObject({
			status,
			code,
			type: expect.stringMatching(/^urn:omti:portal:problem:/),
			title: expect.any(String),
			detail: expect.any(String),
		});
		expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+/);
	};

	it("R31: malformed JSON is a 400 problem", async () => {
		const res = await httpRequest(`${portal.url}/api/v1/auth/sign-in`, "POST", {
			raw: '{"login":',
			headers: { "Content-Type": "application/json" },
		});
		expectProblem(res, 400, "MALFORMED_JSON");
	});

	it("R31: a body over 1 MiB is a 413 problem", async () => {
		const res = await portal.request("POST", "/api/v1/auth/sign-in", { body: { login: "a", password: "x".repeat(1_100_000) } });
		expectProblem(res, 413, "PAYLOAD_TOO_LARGE");
	});

	it("R31: unknown and missing fields are a 422 problem naming them", async () => {
		const res = await portal.request("POST", "/api/v1/auth/sign-in", { body: { login: "a", isAdmin: true } });
		expectProblem(res, 422, "VALIDATION_ERROR");
		expect(res.body.errors).toEqual(
			expect.arrayContaining([
				expect.objectContaining({ field: "password" }),
				expect.objectContaining({ message: expect.stringContaining("isAdmin") }),
			]),
		);
	});

	it("R31: an unknown route and an internal action are both a plain 404 problem", async () => {
		expectProblem(await portal.request("GET", "/api/v1/nothing-here"), 404, "NOT_FOUND");
		expectProblem(await portal.request("POST", "/api/v1/identity/resolveSession", { body: { token: "x".repeat(43) } }), 404, "NOT_FOUND");
	});

	it("R4: a route that needs a session answers 401 without one, and with a made-up token", async () => {
		expectProblem(await portal.request("GET", "/api/v1/me"), 401, "UNAUTHORIZED");
		expectProblem(
			await portal.request("GET", "/api/v1/me", { headers: { Authorization: `Bearer ${"x".repeat(43)}` } }),
			401,
			"UNAUTHORIZED",
		);
	});

	it("R1: the purchase webhook refuses a wrong signature (401) and accepts a signed event (202)", async () => {
		const event = purchaseEvent({ email: "hook@example.com", product: "RB9" });
		const forged = await httpRequest(`${portal.url}/api/v1/hooks/purchases`, "POST", {
			raw: JSON.stringify(event),
			headers: { "Content-Type": "application/json", "X-OMTI-Signature": `sha256=${"0".repeat(64)}` },
		});
		expectProblem(forged, 401, "BAD_SIGNATURE");
		const accepted = await portal.purchase(event);
		expect(accepted.status).toBe(202);
		expect((await portal.purchase(event)).body).toEqual({ accepted: true, outcome: "duplicate" });
	});

	it("R31: a signed but malformed webhook body is a 400 problem", async () => {
		const { hmacSha256 } = await import("@portal/platform");
		const raw = "{not json";
		const res = await httpRequest(`${portal.url}/api/v1/hooks/purchases`, "POST", {
			raw,
			headers: { "Content-Type": "application/json", "X-OMTI-Signature": `sha256=${hmacSha256(portal.config.purchaseWebhookSecret, raw)}` },
		});
		expectProblem(res, 400, "MALFORMED_JSON");
	});

	describe("cookie sessions", () => {
		let cookies: string;
		let csrf: string;
		beforeAll(async () => {
			const { setCookies } = await activatedAccount(portal, "cookie@example.com");
			cookies = setCookies.map((c) => c.split(";")[0]).join("; ");
			csrf = /portal_csrf=([^;]+)/.exec(cookies)?.[1] ?? "";
		});

		it("sets an HttpOnly SameSite session cookie and a readable CSRF cookie", async () => {
			const { setCookies } = await activatedAccount(portal, "cookie-flags@example.com");
			expect(setCookies.find((c) => c.startsWith("portal_session="))).toMatch(/HttpOnly/);
			expect(setCookies.find((c) => c.startsWith("portal_session="))).toMatch(/SameSite=Lax/);
			expect(setCookies.find((c) => c.startsWith("portal_csrf="))).not.toMatch(/HttpOnly/);
		});

		it("R4: a cookie session reads without a CSRF token", async () => {
			const res = await portal.request("GET", "/api/v1/me", { headers: { Cookie: cookies } });
			expect(res.status).toBe(200);
			expect(res.body.email).toBe("cookie@example.com");
		});

		it("R31: a cookie-authenticated change without the CSRF token, or from another origin, is refused", async () => {
			expectProblem(await portal.request("POST", "/api/v1/auth/sign-out", { headers: { Cookie: cookies } }), 403, "CSRF_TOKEN");
			expectProblem(
				await portal.request("POST", "/api/v1/auth/sign-out", { headers: { Cookie: cookies, "X-CSRF-Token": "0".repeat(64) } }),
				403,
				"CSRF_TOKEN",
			);
			expectProblem(
				await portal.request("POST", "/api/v1/auth/sign-out", {
					headers: { Cookie: cookies, "X-CSRF-Token": csrf, Origin: "https://evil.example" },
				}),
				403,
				"CSRF_ORIGIN",
			);
			expect((await portal.request("GET", "/api/v1/me", { headers: { Cookie: cookies } })).status).toBe(200);
		});

		it("R6: sign-out with the CSRF token ends the session at once and clears the cookies", async () => {
			const res = await portal.request("POST", "/api/v1/auth/sign-out", {
				headers: { Cookie: cookies, "X-CSRF-Token": csrf, Origin: portal.url },
			});
			expect(res.status).toBe(204);
			expect(res.setCookies.join("\n")).toMatch(/portal_session=; .*Max-Age=0/);
			expect((await portal.request("GET", "/api/v1/me", { headers: { Cookie: cookies } })).status).toBe(401);
		});
	});

	it("sends security headers on every response", async () => {
		for (const res of [await portal.request("GET", "/healthz"), await portal.request("GET", "/api/v1/me")]) {
			expect(res.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
			expect(res.headers.get("x-content-type-options")).toBe("nosniff");
		}
	});

	it("R30: answers liveness, readiness (broker and database) and Prometheus metrics", async () => {
		expect((await portal.request("GET", "/healthz")).body).toEqual({ status: "alive" });
		const ready = await portal.request("GET", "/readyz");
		expect(ready.status).toBe(200);
		expect(ready.body.checks).toEqual({ broker: "up", transporter: "up", database: "up" });
		const metrics = await eventually(async () => {
			const res = await portal.request("GET", "/metrics");
			return /^portal_event_loop_delay_p99\{[^}]*\} \d/m.test(res.body) ? res : undefined;
		}, "the event-loop delay gauge");
		expect(metrics.body).toMatch(/portal_calls_total/);
	});

	it("R30: counts every call an action handled, exactly, between two scrapes", async () => {
		const handled = async () => {
			const text = (await portal.request("GET", "/metrics")).body as string;
			return Number(/^portal_calls_total\{[^}]*action="gateway\.rest"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
		};
		const before = await handled();
		for (let i = 0; i < 5; i++) await portal.request("GET", "/api/v1/me");
		// The five requests and the first scrape itself; the second scrape is counted after it reads.
		expect((await handled()) - before).toBe(6);
	});

	it("R30: keeps an idle connection longer than clients and load balancers do, so that they close it first", async () => {
		const keepAlive = await new Promise<unknown>((resolve, reject) => {
			get(`${portal.url}/healthz`, (res) => {
				res.resume();
				resolve(res.headers["keep-alive"]);
			}).on("error", reject);
		});
		expect(keepAlive).toBe("timeout=65");
	});
});
