import { startTestPortal, type TestPortal, type TestResponse } from "../support/portal";
import { bearer, customer, type Person } from "./support";

/**
 * Security headers (issue 9) on every kind of answer the portal gives: API JSON, problem+json
 * (401, 404, 400, 413), the static UI, the API docs, the OpenAPI document, probes and the `/l/:code`
 * mail-link redirect. HSTS only where cookies are Secure (it is meaningless, and harmful in
 * development, over plain HTTP).
 */
describe("security: headers", () => {
	for (const secure of [false, true]) {
		describe(secure ? "COOKIE_SECURE=true" : "COOKIE_SECURE=false", () => {
			let portal: TestPortal;
			let jo: Person;

			beforeAll(async () => {
				portal = await startTestPortal({ env: { COOKIE_SECURE: String(secure) } });
				jo = await customer(portal, `jo.headers.${secure}@example.com`);
			});
			afterAll(() => portal?.stop());

			async function responses(): Promise<[string, TestResponse][]> {
				const { code } = await portal.broker.call<{ code: string }, object>("activityLog.createLink", {
					accountId: jo.accountId,
					linkId: "headers",
					href: `${portal.config.publicUrl}/profile`,
				});
				return [
					["API JSON", await portal.request("GET", "/api/v1/me", { headers: bearer(jo) })],
					["401 problem", await portal.request("GET", "/api/v1/me")],
					["404 problem", await portal.request("GET", "/api/v1/no-such-route")],
					[
						"400 malformed JSON",
						await portal.request("POST", "/api/v1/auth/sign-in", { raw: "{", headers: { "Content-Type": "application/json" } }),
					],
					[
						"413 too large",
						await portal.request("POST", "/api/v1/auth/sign-in", {
							raw: `"${"x".repeat(1_100_000)}"`,
							headers: { "Content-Type": "application/json" },
						}),
					],
					["static UI", await portal.request("GET", "/")],
					["UI deep link", await portal.request("GET", "/profile")],
					["API docs", await portal.request("GET", "/api/docs")],
					["OpenAPI", await portal.request("GET", "/api/openapi.json")],
					["healthz", await portal.request("GET", "/healthz")],
					["metrics", await portal.request("GET", "/metrics")],
					["redirect /l/:code", await portal.request("GET", `/l/${code}`)],
					["unknown /l/:code", await portal.request("GET", `/l/${"Z".repeat(22)}`)],
				];
			}

			it(`R31: CSP with frame-ancestors 'none', nosniff, frame denial${secure ? " and HSTS" : ""} on every response type`, async () => {
				const all = await responses();
				expect(all.find(([what]) => what === "redirect /l/:code")?.[1].status).toBe(302);
				expect(all.find(([what]) => what === "static UI")?.[1].headers.get("content-type")).toMatch(/text\/html/);
				expect(all.find(([what]) => what === "413 too large")?.[1].status).toBe(413);
				const seen = all.map(([what, res]) => ({
					what,
					csp:
						/frame-ancestors 'none'/.test(res.headers.get("content-security-policy") ?? "") &&
						/default-src 'self'/.test(res.headers.get("content-security-policy") ?? ""),
					nosniff: res.headers.get("x-content-type-options") === "nosniff",
					frames: res.headers.get("x-frame-options") === "DENY",
					hsts: /max-age=\d{7,}/.test(res.headers.get("strict-transport-security") ?? ""),
				}));
				expect(seen).toEqual(all.map(([what]) => ({ what, csp: true, nosniff: true, frames: true, hsts: secure })));
			});

			it("R31: problem answers carry no stack trace and API answers are not cached", async () => {
				for (const [what, res] of await responses()) {
					if ((res.headers.get("content-type") ?? "").startsWith("application/problem+json")) {
						expect({ what, body: JSON.stringify(res.body) }).not.toEqual({ what, body: expect.stringMatching(/at .*\.(ts|js):\d+/) });
					}
				}
				const me = await portal.request("GET", "/api/v1/me", { headers: bearer(jo) });
				expect(me.headers.get("cache-control")).toBe("no-store");
			});

			it(`R6: session cookies are HttpOnly, SameSite=Lax${secure ? " and Secure" : ""}`, async () => {
				const res = await portal.request("POST", "/api/v1/auth/sign-in", { body: { login: jo.username, password: jo.password } });
				expect(res.setCookies).toHaveLength(2);
				for (const cookie of res.setCookies) {
					expect(cookie).toMatch(/SameSite=Lax/);
					expect(/;\s*Secure/.test(cookie)).toBe(secure);
				}
			});
		});
	}
});
