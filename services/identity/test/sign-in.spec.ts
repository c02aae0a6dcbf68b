import type { Knex } from "@portal/platform";
import { activatedAccount, eventually, purchaseEvent, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { bearer, channelProbe, identityDb, signIn, visible } from "./support";

/** The module object identity's passwords.ts calls into (a namespace import would be a copy). */
const argon2: typeof import("@node-rs/argon2") = require("@node-rs/argon2");

/** R4: sign-in by user name or email, no user enumeration, throttling, usage records. */
describe("identity: sign-in", () => {
	let portal: TestPortal;
	let probe: ReturnType<typeof channelProbe>;
	let ann: Awaited<ReturnType<typeof activatedAccount>>;

	beforeAll(async () => {
		portal = await startTestPortal();
		probe = channelProbe(portal);
		ann = await activatedAccount(portal, "Ann.Sign@Example.com");
	});
	afterAll(() => portal?.stop());
	afterEach(() => jest.restoreAllMocks());

	it("R4: signs in with the user name or the email, in any letter case", async () => {
		for (const login of ["ann.sign", "ANN.SIGN", "ann.sign@example.com", "Ann.Sign@EXAMPLE.com"]) {
			const res = await signIn(portal, login, ann.password);
			expect(res.status).toBe(200);
			expect(res.body.account.username).toBe("ann.sign");
			expect(res.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
			expect(res.setCookies.join(";")).toContain("portal_session=");
		}
	});

	it("R4: an unknown user and a wrong password get the same answer and cost one argon2id verify each", async () => {
		const verify = jest.spyOn(argon2, "verify");
		const unknown = await signIn(portal, "nobody.here@example.com", "some password 123");
		expect(verify).toHaveBeenCalledTimes(1);
		const unknownHash = verify.mock.calls[0]?.[0] as string;

		verify.mockClear();
		const wrong = await signIn(portal, "ann.sign", "not the password 123");
		expect(verify).toHaveBeenCalledTimes(1);
		const realHash = verify.mock.calls[0]?.[0] as string;

		expect(unknown.status).toBe(401);
		expect(visible(unknown)).toEqual(visible(wrong));
		expect(unknown.body.code).toBe("INVALID_CREDENTIALS");
		// Same algorithm and cost parameters: the dummy hash costs what a real one costs.
		const params = (hash: string) => hash.split("$").slice(1, 4).join("$");
		expect(params(unknownHash)).toBe("argon2id$v=19$m=19456,t=2,p=1");
		expect(params(unknownHash)).toBe(params(realHash));
	});

	it("R4: a pending account (no password yet) answers like a wrong password", async () => {
		await portal.purchase(purchaseEvent({ email: "pending.one@example.com", product: "RB9" }));
		await portal.mailsFor("pending.one@example.com");
		const pending = await signIn(portal, "pending.one", "whatever password 1");
		const unknown = await signIn(portal, "pending.none", "whatever password 1");
		expect(visible(pending)).toEqual(visible(unknown));
	});

	it("R4/R14: every success (through the outbox) and every failure of a known account is recorded for the activity log", async () => {
		const before = probe.usage.length;
		await signIn(portal, "ann.sign", "wrong password here 9");
		await signIn(portal, "ann.sign", ann.password);
		await signIn(portal, "no.such.person", "wrong password here 9");
		const records = await eventually(async () => {
			const mine = probe.usage.slice(before);
			return mine.length >= 2 ? mine : undefined;
		}, "usage records");
		await new Promise((resolve) => setTimeout(resolve, 300));
		const kinds = probe.usage.slice(before).map((m) => [m.kind, m.accountId]);
		expect(kinds).toEqual(
			expect.arrayContaining([
				["sign-in-failed", ann.account.id],
				["sign-in", ann.account.id],
			]),
		);
		// Unknown logins are not attributed to anyone.
		expect(probe.usage.slice(before)).toHaveLength(2);
		expect(records.find((m) => m.kind === "sign-in")?.detail).toMatchObject({ ip: expect.any(String), method: "password" });
	});

	it("R4/R14: a session is stored only with its usage record: if the record cannot be written, neither is", async () => {
		const identity = portal.broker.getLocalService("identity") as unknown as {
			outboxInsert(db: Knex, channel: string, m: object): unknown;
		};
		const db = identityDb(portal);
		const sessionsOf = async () => Number((await db("identity.sessions").where({ account_id: ann.account.id }).count({ n: "*" }))[0]?.n);
		const before = await sessionsOf();
		const unwritable = jest
			.spyOn(identity, "outboxInsert")
			.mockImplementation((db: Knex) => db("identity.outbox").insert({ id: "not-a-uuid", channel: "x", payload: {} }));
		const res = await signIn(portal, "ann.sign", ann.password);
		expect(unwritable).toHaveBeenCalled();
		expect(res.status).toBeGreaterThanOrEqual(500);
		expect(await sessionsOf()).toBe(before);
	});

	it("R4: sign-in answers with the account as /me shows it, products in order of purchase", async () => {
		const dan = await activatedAccount(portal, "dan.two@example.com");
		await portal.purchase(purchaseEvent({ email: "dan.two@example.com", product: "MR8" }));
		await portal.mailsFor("dan.two@example.com", 2);
		const signedIn = await signIn(portal, "dan.two", dan.password);
		expect(signedIn.status).toBe(200);
		expect(signedIn.body.account.products.map((p: { code: string }) => p.code)).toEqual(["RB9", "MR8"]);
		const me = await portal.request("GET", "/api/v1/me", { headers: bearer(signedIn.body.token) });
		expect(signedIn.body.account).toEqual(me.body);
	});

	it("R4: a success clears the account's failures when it has some, and leaves the throttle store alone when it has none", async () => {
		const erin = await activatedAccount(portal, "erin.clean@example.com");
		const cacher = portal.broker.cacher as NonNullable<typeof portal.broker.cacher>;
		const del = jest.spyOn(cacher, "del");
		expect((await signIn(portal, "erin.clean", erin.password)).status).toBe(200);
		expect(del).not.toHaveBeenCalled();
		expect((await signIn(portal, "erin.clean", "not her password 1")).status).toBe(401);
		expect((await signIn(portal, "erin.clean", erin.password)).status).toBe(200);
		expect(del).toHaveBeenCalledTimes(1);
		// Cleared: four free failures again, the fifth locks.
		for (let i = 1; i <= 4; i++) expect((await signIn(portal, "erin.clean", `wrong again ${i}`)).status).toBe(401);
		expect((await signIn(portal, "erin.clean", erin.password)).status).toBe(200);
	});

	it("R4: repeated failures lock the account with exponential backoff, 429 and Retry-After; a lock refuses even the right password", async () => {
		const victim = await activatedAccount(portal, "locked.out@example.com");
		for (let i = 1; i <= 4; i++) expect((await signIn(portal, "locked.out", `wrong guess number ${i}`)).status).toBe(401);
		// The fifth failure starts a 2 s lock.
		expect((await signIn(portal, "locked.out", "wrong guess number 5")).status).toBe(401);
		const locked = await signIn(portal, "locked.out", victim.password);
		expect(locked.status).toBe(429);
		expect(locked.body.code).toBe("RATE_LIMITED");
		expect(Number(locked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
		expect(Number(locked.headers.get("retry-after"))).toBeLessThanOrEqual(2);
		// The email names the same account: same lock.
		expect((await signIn(portal, "locked.out@example.com", victim.password)).status).toBe(429);

		await new Promise((resolve) => setTimeout(resolve, 2_100));
		expect((await signIn(portal, "locked.out", "wrong guess number 6")).status).toBe(401);
		const longer = await signIn(portal, "locked.out", victim.password);
		expect(longer.status).toBe(429);
		expect(Number(longer.headers.get("retry-after"))).toBeGreaterThan(2);
		expect(Number(longer.headers.get("retry-after"))).toBeLessThanOrEqual(4);
	});

	it("R4: unknown logins are throttled exactly like real accounts (a 429 reveals nothing)", async () => {
		for (let i = 1; i <= 5; i++) await signIn(portal, "ghost.user", `wrong guess number ${i}`);
		const res = await signIn(portal, "ghost.user", "wrong guess number 6");
		expect(res.status).toBe(429);
		expect(res.headers.get("retry-after")).toBeTruthy();
	});

	it("R4: after waiting out a lock, the right password signs in and clears the account's count", async () => {
		const bob = await activatedAccount(portal, "bob.waits@example.com");
		for (let i = 1; i <= 5; i++) await signIn(portal, "bob.waits", `wrong guess number ${i}`);
		expect((await signIn(portal, "bob.waits", bob.password)).status).toBe(429);
		await new Promise((resolve) => setTimeout(resolve, 2_100));
		expect((await signIn(portal, "bob.waits", bob.password)).status).toBe(200);
		// The count started over: four free failures again.
		for (let i = 1; i <= 4; i++) expect((await signIn(portal, "bob.waits", `wrong again ${i}`)).status).toBe(401);
		expect((await signIn(portal, "bob.waits", bob.password)).status).toBe(200);
	});

	it("R4: when the throttle store fails, sign-in fails closed with 503 and checks no password", async () => {
		const cacher = portal.broker.cacher as NonNullable<typeof portal.broker.cacher>;
		jest.spyOn(cacher, "get").mockRejectedValue(new Error("store down"));
		const verify = jest.spyOn(argon2, "verify");
		const res = await signIn(portal, "ann.sign", ann.password);
		expect(res.status).toBe(503);
		expect(res.headers.get("content-type")).toContain("application/problem+json");
		expect(verify).not.toHaveBeenCalled();
	});

	it("R4/R31: bad input is a 422 problem and changes nothing", async () => {
		const res = await portal.request("POST", "/api/v1/auth/sign-in", { body: { login: "ann.sign", password: ann.password, extra: 1 } });
		expect(res.status).toBe(422);
		const empty = await portal.request("POST", "/api/v1/auth/sign-in", { body: { login: "", password: "" } });
		expect(empty.status).toBe(422);
	});
});

/** R4: the per-address limit, in its own portal so that its lock does not touch other tests. */
describe("identity: sign-in throttle per client address", () => {
	let portal: TestPortal;
	beforeAll(async () => {
		portal = await startTestPortal();
	});
	afterAll(() => portal?.stop());

	it("R4: many failures from one address across many logins lock that address", async () => {
		const carol = await activatedAccount(portal, "carol.addr@example.com");
		// 50 free failures from one address (offices share addresses), spread over logins so that no account lock triggers.
		for (let i = 1; i <= 50; i++) expect((await signIn(portal, `someone${i % 25}`, `guess ${i} for sure`)).status).toBe(401);
		expect((await signIn(portal, "someone-else", "guess 51 for sure")).status).toBe(401);
		const res = await signIn(portal, "carol.addr", carol.password);
		expect(res.status).toBe(429);
		expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
	});
});
