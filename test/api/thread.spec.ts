import { purchaseEvent } from "@portal/server";
import { startTestPortal, type TestPortal } from "../support/portal";

/** The first thread, as a customer lives it: purchase → welcome mail → password → sign-in → /me. */
describe("API: from purchase to signed-in customer", () => {
	let portal: TestPortal;
	beforeAll(async () => {
		portal = await startTestPortal();
	});
	afterAll(() => portal?.stop());

	it("R1/R4: a purchase gives an account the customer activates from the mail and signs in to", async () => {
		const event = purchaseEvent({ email: "Dana.Reporter@Example.com", product: "RB9", givenName: "Dana" });
		expect((await portal.purchase(event)).status).toBe(202);

		const [welcome] = await portal.mailsFor("dana.reporter@example.com");
		expect(welcome?.text).toContain("Hello Dana");
		expect(welcome?.text).toContain("Your user name: dana.reporter");
		expect(welcome?.text).toMatch(/never send passwords/);
		const link = new URL(welcome?.links[0] ?? "");
		expect(link.pathname).toBe("/activate");
		const token = link.searchParams.get("token");

		// Not active until the password is set.
		const early = await portal.request("POST", "/api/v1/auth/sign-in", { body: { login: "dana.reporter", password: "anything at all" } });
		expect(early.status).toBe(401);

		const weak = await portal.request("POST", "/api/v1/auth/activate", { body: { token, password: "password1234" } });
		expect(weak.status).toBe(422);
		expect(weak.body.errors[0].field).toBe("password");

		const password = "stenotype ribbon quarterly 1987";
		const activated = await portal.request("POST", "/api/v1/auth/activate", { body: { token, password } });
		expect(activated.status).toBe(200);
		expect(activated.body.account).toMatchObject({ username: "dana.reporter", status: "active" });

		const reused = await portal.request("POST", "/api/v1/auth/activate", { body: { token, password } });
		expect(reused.status).toBe(410);

		for (const login of ["dana.reporter", "DANA.REPORTER@example.com"]) {
			const signIn = await portal.request("POST", "/api/v1/auth/sign-in", { body: { login, password } });
			expect(signIn.status).toBe(200);
			const me = await portal.request("GET", "/api/v1/me", { headers: { Authorization: `Bearer ${signIn.body.token}` } });
			expect(me.status).toBe(200);
			expect(me.body).toEqual({
				id: activated.body.account.id,
				username: "dana.reporter",
				email: "dana.reporter@example.com",
				status: "active",
				products: [{ code: "RB9", name: "ReporterBase 9", since: expect.any(String) }],
				roles: [],
				mfa: false,
			});
		}
	});

	it("R4: a wrong password and an unknown user get the same answer", async () => {
		const wrong = await portal.request("POST", "/api/v1/auth/sign-in", {
			body: { login: "dana.reporter", password: "not the password at all" },
		});
		const unknown = await portal.request("POST", "/api/v1/auth/sign-in", {
			body: { login: "nobody.here", password: "not the password at all" },
		});
		expect(wrong.status).toBe(401);
		expect(unknown.status).toBe(401);
		expect(unknown.body).toEqual(wrong.body);
	});

	it("R1: an unknown activation token is a 400, an expired one a 410", async () => {
		const unknown = await portal.request("POST", "/api/v1/auth/activate", {
			body: { token: "A".repeat(43), password: "stenotype ribbon quarterly 1987" },
		});
		expect(unknown.status).toBe(400);

		await portal.purchase(purchaseEvent({ email: "late@example.com", product: "MR8" }));
		const [welcome] = await portal.mailsFor("late@example.com");
		const token = new URL(welcome?.links[0] ?? "").searchParams.get("token");
		const db = (portal.broker.getLocalService("identity") as unknown as { db: import("@portal/platform").Knex }).db;
		await db("identity.tokens")
			.update({ expires_at: new Date(Date.now() - 1000) })
			.whereIn("account_id", db("identity.accounts").select("id").where({ email_normalized: "late@example.com" }));
		const expired = await portal.request("POST", "/api/v1/auth/activate", { body: { token, password: "stenotype ribbon quarterly 1987" } });
		expect(expired.status).toBe(410);
		expect(expired.body.code).toBe("TOKEN_EXPIRED");
	});
});
