import type { Knex } from "@portal/platform";
import { generateSync } from "otplib";
import { activatedAccount, eventually, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { bearer, channelProbe, identityDb, signIn } from "./support";

const me = (portal: TestPortal, token: string) => portal.request("GET", "/api/v1/me", { headers: bearer(token) });

/** R6: sessions (list, revoke, lifetimes), TOTP second factor, step-up re-authentication. */
describe("identity: sessions and second factor", () => {
	let portal: TestPortal;
	let db: Knex;
	let probe: ReturnType<typeof channelProbe>;

	beforeAll(async () => {
		portal = await startTestPortal({ env: { SESSION_IDLE_MINUTES: "20", SESSION_ABSOLUTE_HOURS: "2" } });
		db = identityDb(portal);
		probe = channelProbe(portal);
	});
	afterAll(() => portal?.stop());

	it("R6: lists live sessions with device, address, times and which one is current", async () => {
		const ann = await activatedAccount(portal, "ann.sessions@example.com");
		await portal.request("POST", "/api/v1/auth/sign-in", {
			body: { login: "ann.sessions", password: ann.password },
			headers: { "User-Agent": "Phone Browser 1.0" },
		});
		const res = await portal.request("GET", "/api/v1/auth/sessions", { headers: bearer(ann.token) });
		expect(res.status).toBe(200);
		expect(res.body).toHaveLength(2);
		const current = res.body.find((s: { current: boolean }) => s.current);
		const phone = res.body.find((s: { userAgent: string }) => s.userAgent === "Phone Browser 1.0");
		expect(current).toMatchObject({
			id: expect.any(String),
			ip: expect.any(String),
			createdAt: expect.any(String),
			lastUsedAt: expect.any(String),
		});
		expect(phone.current).toBe(false);
		expect(JSON.stringify(res.body)).not.toMatch(/token|hash/i);
	});

	it("R6: the configured absolute lifetime sets the session's expiry and the cookie's max-age", async () => {
		const bo = await activatedAccount(portal, "bo.lifetime@example.com");
		const [session] = await db("identity.sessions").where({ account_id: bo.account.id });
		expect((new Date(session.expires_at).getTime() - new Date(session.created_at).getTime()) / 3_600_000).toBeCloseTo(2, 1);
		expect(bo.setCookies.join(";")).toContain("Max-Age=7200");
	});

	it("R6: revoking one session ends it on the very next request; revoking all others keeps only this one", async () => {
		const cy = await activatedAccount(portal, "cy.revoke@example.com");
		const second = (await signIn(portal, "cy.revoke", cy.password)).body.token as string;
		const third = (await signIn(portal, "cy.revoke", cy.password)).body.token as string;
		expect((await me(portal, second)).status).toBe(200); // now cached
		const list = (await portal.request("GET", "/api/v1/auth/sessions", { headers: bearer(cy.token) })).body;
		const secondId = (await db("identity.sessions").where({ account_id: cy.account.id }).orderBy("created_at"))[1].id;
		expect(list.map((s: { id: string }) => s.id)).toContain(secondId);

		const audits = probe.audit.length;
		expect((await portal.request("DELETE", `/api/v1/auth/sessions/${secondId}`, { headers: bearer(cy.token) })).status).toBe(204);
		expect((await me(portal, second)).status).toBe(401);
		expect((await me(portal, third)).status).toBe(200);
		// Someone else's or an unknown session: 404, nothing changes.
		expect((await portal.request("DELETE", `/api/v1/auth/sessions/${secondId}`, { headers: bearer(third) })).status).toBe(404);

		expect((await portal.request("DELETE", "/api/v1/auth/sessions", { headers: bearer(cy.token) })).status).toBe(204);
		expect((await me(portal, third)).status).toBe(401);
		expect((await me(portal, cy.token)).status).toBe(200);
		const audit = await eventually(async () => {
			const found = probe.audit.slice(audits).filter((a) => a.action === "identity.session.revoked");
			return found.length >= 2 ? found : undefined;
		}, "revoke audits");
		expect(audit[0]).toMatchObject({ accountId: cy.account.id, detail: { sessionId: secondId } });
	});

	it("R6: sign-out ends the session everywhere at once and clears the cookies", async () => {
		const di = await activatedAccount(portal, "di.signout@example.com");
		expect((await me(portal, di.token)).status).toBe(200);
		const out = await portal.request("POST", "/api/v1/auth/sign-out", { headers: bearer(di.token) });
		expect(out.status).toBe(204);
		expect(out.setCookies.join(";")).toContain("Max-Age=0");
		expect((await me(portal, di.token)).status).toBe(401);
	});

	it("R6: a session idle longer than the idle timeout, or past its absolute lifetime, is refused", async () => {
		const ed = await activatedAccount(portal, "ed.idle@example.com");
		const fresh = (await signIn(portal, "ed.idle", ed.password)).body.token as string;
		const [first, second] = await db("identity.sessions").where({ account_id: ed.account.id }).orderBy("created_at");
		await db("identity.sessions")
			.where({ id: first.id })
			.update({ last_used_at: new Date(Date.now() - 21 * 60_000) });
		await db("identity.sessions")
			.where({ id: second.id })
			.update({ expires_at: new Date(Date.now() - 1000) });
		// Entries cached before the clock was moved would live at most 30 s; this test cannot wait that long.
		await portal.broker.cacher?.clean();
		expect((await me(portal, ed.token)).status).toBe(401);
		expect((await me(portal, fresh)).status).toBe(401);
		const live = await portal.request("GET", "/api/v1/auth/sessions", {
			headers: bearer((await signIn(portal, "ed.idle", ed.password)).body.token),
		});
		expect(live.body).toHaveLength(1);
	});

	it("R6: TOTP enrolment is confirmed by a first code, gives ten single-use recovery codes stored hashed, and /me shows mfa", async () => {
		const fay = await activatedAccount(portal, "fay.totp@example.com");
		const start = await portal.request("POST", "/api/v1/auth/totp", { headers: bearer(fay.token) });
		expect(start.status).toBe(200);
		expect(start.body.otpauthUri).toMatch(/^otpauth:\/\/totp\/.*secret=/);
		const secret = start.body.secret as string;
		// Not on until confirmed.
		expect((await me(portal, fay.token)).body.mfa).toBe(false);
		const bad = await portal.request("POST", "/api/v1/auth/totp/confirm", { headers: bearer(fay.token), body: { code: "000000" } });
		expect(bad.status).toBe(422);

		const confirm = await portal.request("POST", "/api/v1/auth/totp/confirm", {
			headers: bearer(fay.token),
			body: { code: generateSync({ secret }) },
		});
		expect(confirm.status).toBe(200);
		const codes = confirm.body.recoveryCodes as string[];
		expect(codes).toHaveLength(10);
		expect(new Set(codes).size).toBe(10);
		expect((await me(portal, fay.token)).body.mfa).toBe(true);
		const stored = await db("identity.recovery_codes").where({ account_id: fay.account.id });
		expect(stored).toHaveLength(10);
		for (const code of codes) expect(JSON.stringify(stored)).not.toContain(code.replace(/-/g, ""));

		// Sign-in now asks for the code.
		const asked = await signIn(portal, "fay.totp", fay.password);
		expect(asked.status).toBe(401);
		expect(asked.body.code).toBe("TOTP_REQUIRED");
		const next = generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
		expect((await signIn(portal, "fay.totp", fay.password, next)).status).toBe(200);
		// The same code a second time is a replay.
		const replay = await signIn(portal, "fay.totp", fay.password, next);
		expect(replay.status).toBe(401);
		expect(replay.body.code).toBe("INVALID_TOTP");
		// A wrong password with a code still gets the generic answer.
		expect((await signIn(portal, "fay.totp", "wrong password 12345", next)).body.code).toBe("INVALID_CREDENTIALS");

		// A recovery code works once.
		expect((await signIn(portal, "fay.totp", fay.password, codes[0])).status).toBe(200);
		expect((await signIn(portal, "fay.totp", fay.password, codes[0])).status).toBe(401);
		const mails = await portal.mailsFor("fay.totp@example.com", 3);
		expect(mails.map((m) => m.template)).toEqual(expect.arrayContaining(["security-alert"]));
		await eventually(
			async () => probe.audit.find((a) => a.accountId === fay.account.id && a.action === "identity.totp.enabled"),
			"totp audit",
		);
	});

	it("R6: turning TOTP off needs the password", async () => {
		const gus = await activatedAccount(portal, "gus.off@example.com");
		const { secret } = (await portal.request("POST", "/api/v1/auth/totp", { headers: bearer(gus.token) })).body;
		await portal.request("POST", "/api/v1/auth/totp/confirm", { headers: bearer(gus.token), body: { code: generateSync({ secret }) } });
		const wrong = await portal.request("DELETE", "/api/v1/auth/totp", {
			headers: bearer(gus.token),
			body: { password: "not the password 42" },
		});
		expect(wrong.status).toBe(403);
		expect((await me(portal, gus.token)).body.mfa).toBe(true);
		const off = await portal.request("DELETE", "/api/v1/auth/totp", { headers: bearer(gus.token), body: { password: gus.password } });
		expect(off.status).toBe(204);
		expect((await me(portal, gus.token)).body.mfa).toBe(false);
		expect(await db("identity.recovery_codes").where({ account_id: gus.account.id })).toHaveLength(0);
		expect((await signIn(portal, "gus.off", gus.password)).status).toBe(200);
		await eventually(
			async () => probe.audit.find((a) => a.accountId === gus.account.id && a.action === "identity.totp.disabled"),
			"totp audit",
		);
	});

	it("R6/R25: re-authentication records the time on the current session, for identity.recentlyReauthenticated", async () => {
		const hal = await activatedAccount(portal, "hal.step@example.com");
		const sessionId = (await db("identity.sessions").where({ account_id: hal.account.id }).first()).id;
		const ask = () => portal.broker.call<{ ok: boolean }, object>("identity.recentlyReauthenticated", { sessionId, withinSeconds: 300 });
		expect(await ask()).toEqual({ ok: false });
		const wrong = await portal.request("POST", "/api/v1/auth/reauthenticate", {
			headers: bearer(hal.token),
			body: { password: "wrong password 9999" },
		});
		expect(wrong.status).toBe(401);
		expect(await ask()).toEqual({ ok: false });
		const ok = await portal.request("POST", "/api/v1/auth/reauthenticate", {
			headers: bearer(hal.token),
			body: { password: hal.password },
		});
		expect(ok.status).toBe(204);
		expect(await ask()).toEqual({ ok: true });
		await db("identity.sessions")
			.where({ id: sessionId })
			.update({ reauthenticated_at: new Date(Date.now() - 600_000) });
		expect(await ask()).toEqual({ ok: false });
	});
});
