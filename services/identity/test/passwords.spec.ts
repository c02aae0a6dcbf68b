import type { Knex } from "@portal/platform";
import { activatedAccount, eventually, purchaseEvent, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { bearer, channelProbe, identityDb, signIn } from "./support";

const tokenOf = (link: string | undefined) => new URL(link ?? "").searchParams.get("token") ?? "";

/** R1 (resend), R5: password change and reset. */
describe("identity: passwords", () => {
	let portal: TestPortal;
	let db: Knex;
	let probe: ReturnType<typeof channelProbe>;

	beforeAll(async () => {
		portal = await startTestPortal();
		db = identityDb(portal);
		probe = channelProbe(portal);
	});
	afterAll(() => portal?.stop());

	it("R1: an expired welcome link can be replaced; the answer is 202 whatever the email", async () => {
		await portal.purchase(purchaseEvent({ email: "late.starter@example.com", product: "RB9" }));
		const [welcome] = await portal.mailsFor("late.starter@example.com");
		await db("identity.tokens").update({ expires_at: new Date(Date.now() - 1000) });
		const expired = await portal.request("POST", "/api/v1/auth/activate", {
			body: { token: tokenOf(welcome?.links[0]), password: "a long and unusual passphrase 7" },
		});
		expect(expired.status).toBe(410);

		const known = await portal.request("POST", "/api/v1/auth/activate/resend", { body: { email: "Late.Starter@example.com" } });
		const unknown = await portal.request("POST", "/api/v1/auth/activate/resend", { body: { email: "never.bought@example.com" } });
		expect(known.status).toBe(202);
		expect(unknown.status).toBe(202);
		expect(unknown.body).toEqual(known.body);

		const [resent] = await portal.mailsFor("late.starter@example.com", 2);
		expect(resent?.template).toBe("activation-resend");
		expect(resent?.text).toContain("late.starter");
		const activated = await portal.request("POST", "/api/v1/auth/activate", {
			body: { token: tokenOf(resent?.links[0]), password: "a long and unusual passphrase 7" },
		});
		expect(activated.status).toBe(200);
		expect(activated.body.account.status).toBe("active");
	});

	it("R5: a change needs the current password, ends every other session, keeps this one and sends a notice", async () => {
		const ann = await activatedAccount(portal, "ann.change@example.com");
		const other = (await signIn(portal, "ann.change", ann.password)).body.token as string;
		const audits = probe.audit.length;

		const wrong = await portal.request("POST", "/api/v1/auth/password", {
			headers: bearer(ann.token),
			body: { currentPassword: "not my password 123", newPassword: "brand new secret phrase 88" },
		});
		expect(wrong.status).toBe(403);
		expect(wrong.body.code).toBe("WRONG_PASSWORD");

		const changed = await portal.request("POST", "/api/v1/auth/password", {
			headers: bearer(ann.token),
			body: { currentPassword: ann.password, newPassword: "brand new secret phrase 88" },
		});
		expect(changed.status).toBe(204);
		expect((await portal.request("GET", "/api/v1/me", { headers: bearer(ann.token) })).status).toBe(200);
		expect((await portal.request("GET", "/api/v1/me", { headers: bearer(other) })).status).toBe(401);

		expect((await signIn(portal, "ann.change", ann.password)).status).toBe(401);
		expect((await signIn(portal, "ann.change", "brand new secret phrase 88")).status).toBe(200);

		const [notice] = await portal.mailsFor("ann.change@example.com", 2);
		expect(notice?.template).toBe("password-changed");
		expect(notice?.subject).toContain("password was changed");
		const audit = await eventually(async () => probe.audit.slice(audits).find((a) => a.action === "identity.password.changed"), "audit");
		expect(audit).toMatchObject({
			accountId: ann.account.id,
			actor: { kind: "account", id: ann.account.id },
			detail: { otherSessionsEnded: 1 },
		});
	});

	it("R5: a weak new password gets a clear 422 with the reason and changes nothing", async () => {
		const bo = await activatedAccount(portal, "bo.weak@example.com");
		const cases = ["short1", "password1234", "bo.weak-and-more-2024", "x".repeat(257)];
		for (const newPassword of cases) {
			const res = await portal.request("POST", "/api/v1/auth/password", {
				headers: bearer(bo.token),
				body: { currentPassword: bo.password, newPassword },
			});
			expect(res.status).toBe(422);
			expect(res.body.code).toBe("WEAK_PASSWORD");
			expect(res.body.errors[0]).toMatchObject({ field: "newPassword", message: expect.any(String) });
		}
		expect((await signIn(portal, "bo.weak", bo.password)).status).toBe(200);
	});

	it("R5: a reset is 202 whatever the email; the mailed link is hashed, single-use, one hour, and ends every session", async () => {
		const cy = await activatedAccount(portal, "cy.reset@example.com");
		const known = await portal.request("POST", "/api/v1/auth/password-reset", { body: { email: "CY.reset@example.com" } });
		const unknown = await portal.request("POST", "/api/v1/auth/password-reset", { body: { email: "nobody.at.all@example.com" } });
		expect([known.status, unknown.status]).toEqual([202, 202]);
		expect(unknown.body).toEqual(known.body);

		const [mail] = await portal.mailsFor("cy.reset@example.com", 2);
		expect(mail?.template).toBe("password-reset");
		const link = mail?.links.find((l) => l.includes("/reset-password?token="));
		const token = tokenOf(link);
		const row = await db("identity.tokens").where({ account_id: cy.account.id, purpose: "password_reset" }).first();
		expect(JSON.stringify(row)).not.toContain(token);
		expect((new Date(row.expires_at).getTime() - new Date(row.created_at).getTime()) / 60_000).toBeCloseTo(60, 0);

		const weak = await portal.request("POST", "/api/v1/auth/password-reset/confirm", { body: { token, password: "short" } });
		expect(weak.status).toBe(422);
		const done = await portal.request("POST", "/api/v1/auth/password-reset/confirm", {
			body: { token, password: "reset to this phrase 2026" },
		});
		expect(done.status).toBe(204);
		expect((await portal.request("GET", "/api/v1/me", { headers: bearer(cy.token) })).status).toBe(401);
		expect((await signIn(portal, "cy.reset", "reset to this phrase 2026")).status).toBe(200);

		const again = await portal.request("POST", "/api/v1/auth/password-reset/confirm", {
			body: { token, password: "another phrase again 77" },
		});
		expect(again.status).toBe(410);
		const bogus = await portal.request("POST", "/api/v1/auth/password-reset/confirm", {
			body: { token: "x".repeat(43), password: "another phrase again 77" },
		});
		expect(bogus.status).toBe(400);
	});

	it("R5: an expired reset link is refused with 410", async () => {
		const di = await activatedAccount(portal, "di.expired@example.com");
		await portal.request("POST", "/api/v1/auth/password-reset", { body: { email: "di.expired@example.com" } });
		const [mail] = await portal.mailsFor("di.expired@example.com", 2);
		await db("identity.tokens")
			.where({ account_id: di.account.id, purpose: "password_reset" })
			.update({ expires_at: new Date(Date.now() - 1) });
		const res = await portal.request("POST", "/api/v1/auth/password-reset/confirm", {
			body: { token: tokenOf(mail?.links.find((l) => l.includes("reset-password"))), password: "reset to this phrase 2026" },
		});
		expect(res.status).toBe(410);
		expect((await signIn(portal, "di.expired", di.password)).status).toBe(200);
	});
});
