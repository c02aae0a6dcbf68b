import { signUnsubscribeToken } from "../../services/communications/src/consent";
import { activatedAccount, startTestPortal, type TestPortal } from "../support/portal";

/** Privacy signals that reach the portal through the gateway on any route. */
describe("API: privacy signals at the edge", () => {
	let portal: TestPortal;
	beforeAll(async () => {
		portal = await startTestPortal();
	});
	afterAll(() => portal?.stop());

	it("R24: Sec-GPC: 1 on any signed-in request withdraws consent to sale and sharing, once", async () => {
		const { token } = await activatedAccount(portal, "gpc@example.com");
		const auth = { Authorization: `Bearer ${token}` };
		for (const purpose of ["sale", "share"]) {
			const given = await portal.request("POST", "/api/v1/privacy/consents", {
				headers: auth,
				body: { purpose, recipient: "Partner Court Services", scope: ["contact"] },
			});
			expect(given.status).toBe(201);
		}
		const before = await portal.request("GET", "/api/v1/privacy/consents", { headers: auth });
		const active = (list: any) => (Array.isArray(list) ? list : list.consents).filter((c: any) => c.withdrawnAt === null);
		expect(active(before.body)).toHaveLength(2);

		// A request elsewhere in the portal carries the browser's signal.
		expect((await portal.request("GET", "/api/v1/me", { headers: { ...auth, "Sec-GPC": "1" } })).status).toBe(200);
		const after = await portal.request("GET", "/api/v1/privacy/consents", { headers: auth });
		expect(active(after.body)).toHaveLength(0);
		const withdrawn = (Array.isArray(after.body) ? after.body : after.body.consents) as any[];
		expect(withdrawn.every((c) => c.withdrawnAt !== null)).toBe(true);
	});

	it("R20: one-click unsubscribe works from a signed-in browser without a CSRF token (the link's token is the credential)", async () => {
		const { account, setCookies } = await activatedAccount(portal, "signed-in-unsub@example.com");
		const cookie = setCookies.map((c) => c.split(";")[0]).join("; ");
		const token = signUnsubscribeToken(portal.config.sessionSecret, account.id);
		const res = await portal.request("POST", `/api/v1/unsubscribe?token=${encodeURIComponent(token)}`, {
			headers: { Cookie: cookie, "Content-Type": "application/x-www-form-urlencoded" },
			raw: "List-Unsubscribe=One-Click",
		});
		expect(res.status).toBeLessThan(300);
		const prefs = await portal.request("GET", "/api/v1/preferences/communications", { headers: { Cookie: cookie } });
		expect(prefs.body.marketing.email).toBe(false);
		// The session was not used: a state change that needs it still demands the CSRF token.
		expect((await portal.request("POST", "/api/v1/auth/sign-out", { headers: { Cookie: cookie } })).status).toBe(403);
	});
});
