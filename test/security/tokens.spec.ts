import { signUnsubscribeToken } from "../../services/communications/src/consent";
import { purchaseEvent, startTestPortal, type TestPortal } from "../support/portal";
import { bearer, customer, type Person, serviceDb, signInSession } from "./support";

/** Mail tokens (issue 9): single-use or signed as designed, expiring, bound to their own account. */
describe("security: tokens", () => {
	let portal: TestPortal;
	let amy: Person;
	let bob: Person;

	beforeAll(async () => {
		portal = await startTestPortal();
		amy = await customer(portal, "amy.token@example.com");
		bob = await customer(portal, "bob.token@example.com");
	});
	afterAll(() => portal?.stop());

	const tokenIn = (link: string | undefined) => new URL(link ?? "http://x").searchParams.get("token") ?? "";
	const signsIn = async (p: Person, password: string) =>
		(await portal.request("POST", "/api/v1/auth/sign-in", { body: { login: p.username, password } })).status;

	it("R1: an activation token works once, not after it expires, and only for its own account", async () => {
		await portal.purchase(purchaseEvent({ email: "cat.new@example.com", product: "RB9" }));
		const [welcome] = await portal.mailsFor("cat.new@example.com");
		const token = tokenIn(welcome?.links[0]);
		const password = "another fine passphrase 77";
		const first = await portal.request("POST", "/api/v1/auth/activate", { body: { token, password } });
		expect(first.status).toBe(200);
		expect(first.body.account.email).toBe("cat.new@example.com");
		const again = await portal.request("POST", "/api/v1/auth/activate", { body: { token, password: "a different passphrase 88" } });
		expect([400, 410]).toContain(again.status);

		await portal.purchase(purchaseEvent({ email: "dan.late@example.com", product: "RB9" }));
		const [late] = await portal.mailsFor("dan.late@example.com");
		await serviceDb(
			portal,
			"identity",
		)("identity.tokens")
			.where({ purpose: "activation", used_at: null })
			.update({ expires_at: new Date(Date.now() - 1000) });
		const expired = await portal.request("POST", "/api/v1/auth/activate", { body: { token: tokenIn(late?.links[0]), password } });
		expect([400, 410]).toContain(expired.status);
	});

	it("R5: a reset token works once and changes only its own account's password", async () => {
		expect((await portal.request("POST", "/api/v1/auth/password-reset", { body: { email: amy.email } })).status).toBe(202);
		const mails = await portal.mailsFor(amy.email, 2);
		const token = tokenIn(mails.flatMap((m) => m.links).find((l) => l.includes("reset-password")));
		expect(token).not.toBe("");
		const newPassword = "reset to this passphrase 99";
		expect((await portal.request("POST", "/api/v1/auth/password-reset/confirm", { body: { token, password: newPassword } })).status).toBe(
			204,
		);
		const reuse = await portal.request("POST", "/api/v1/auth/password-reset/confirm", {
			body: { token, password: "and again passphrase 11" },
		});
		expect([400, 410]).toContain(reuse.status);
		expect(await signsIn(amy, newPassword)).toBe(200);
		expect(await signsIn(bob, bob.password)).toBe(200);
		expect(await signsIn(bob, newPassword)).toBe(401);
	});

	it("R20: an unsubscribe token is signed for one account: a forged or expired one is refused and changes nothing", async () => {
		const secret = portal.config.sessionSecret;
		const before = await portal.request("GET", "/api/v1/preferences/communications", { headers: bearer(bob) });
		const amys = signUnsubscribeToken(secret, amy.accountId);
		const forged = amys.replace(amy.accountId, bob.accountId);
		const refused = await portal.request("POST", "/api/v1/unsubscribe", { body: { token: forged, "List-Unsubscribe": "One-Click" } });
		expect(refused.status).toBe(400);
		const expired = signUnsubscribeToken(secret, bob.accountId, new Date(Date.now() - 401 * 86_400_000));
		expect(
			(await portal.request("POST", "/api/v1/unsubscribe", { body: { token: expired, "List-Unsubscribe": "One-Click" } })).status,
		).toBe(410);
		const after = await portal.request("GET", "/api/v1/preferences/communications", { headers: bearer(bob) });
		expect(after.body.marketing).toEqual(before.body.marketing);
		// The real one works, and again later (it is signed, not single-use: R20 keeps it working).
		for (let i = 0; i < 2; i++) {
			const ok = await portal.request("POST", "/api/v1/unsubscribe", { body: { token: amys, "List-Unsubscribe": "One-Click" } });
			expect(ok.status).toBeLessThan(300);
		}
		// amy's earlier sessions ended with her password reset above.
		const amyNow = await signInSession(portal, amy.username, "reset to this passphrase 99");
		expect((await portal.request("GET", "/api/v1/preferences/communications", { headers: bearer(amyNow) })).body.marketing.email).toBe(
			false,
		);
	});
});
