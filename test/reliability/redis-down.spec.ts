import { describeInfra } from "../support/infra";
import { activatedAccount, eventually, startTestPortal, type TestPortal } from "../support/portal";
import { type FaultServer, faultInfra, postgresServer, redisServer } from "./servers";

/**
 * R4, R12 with the cache gone: Redis (the cacher of sessions, sharing decisions and sign-in
 * throttling) is killed. Sharing checks are answered from Postgres and stay correct, sign-in fails
 * closed with a clear 503 (no throttle counts, no unlimited guessing), a revoke made while Redis is
 * away holds, and everything works again once Redis returns, with no stale "allowed".
 */
describeInfra("fault: Redis killed", () => {
	let postgres: FaultServer;
	let redis: FaultServer;
	let portal: TestPortal;
	let redisDown = false;
	const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

	beforeAll(async () => {
		[postgres, redis] = await Promise.all([postgresServer(), redisServer()]);
		portal = await startTestPortal({ infra: faultInfra({ postgres, redis }) });
	}, 60_000);

	afterAll(async () => {
		// A broker stops cleanly only with its Redis reachable (the client's quit waits for it).
		if (redisDown) await redis.start();
		await portal?.stop();
		await Promise.all([postgres?.destroy(), redis?.destroy()]);
	}, 30_000);

	it("R4, R12: Redis killed: checks from Postgres stay correct, sign-in fails closed with 503, a revoke made meanwhile holds after Redis returns", async () => {
		const [owner, friend, stranger] = await Promise.all([
			activatedAccount(portal, "redis-fault-owner@example.com"),
			activatedAccount(portal, "redis-fault-friend@example.com"),
			activatedAccount(portal, "redis-fault-stranger@example.com"),
		]);
		const readShared = async (reader: { token: string }) => {
			const started = Date.now();
			const res = await portal.request("GET", `/api/v1/profiles/${owner.account.id}`, { headers: bearer(reader.token) });
			return { status: res.status, ms: Date.now() - started, body: res.body };
		};
		const signIn = (who: { account: { email?: string; username: string }; password: string }) =>
			portal.request("POST", "/api/v1/auth/sign-in", { body: { login: who.account.username, password: who.password } });
		const granted = await portal.request("POST", "/api/v1/shares", {
			body: { grantee: { username: friend.account.username }, role: "viewer" },
			headers: bearer(owner.token),
		});
		expect(granted.status).toBe(201);
		// Cached "allowed" for the friend, cached "denied" for the stranger.
		expect((await readShared(friend)).status).toBe(200);
		expect((await readShared(stranger)).status).toBe(404);
		let tried = 4;

		await redis.kill();
		redisDown = true;
		// Checks skip the lost cacher and read Postgres: still correct, and fast.
		for (let i = 0; i < 5; i++) {
			const [allowed, denied] = await Promise.all([readShared(friend), readShared(stranger)]);
			expect([allowed.status, denied.status]).toEqual([200, 404]);
			expect(allowed.ms).toBeLessThan(5_000);
			tried += 2;
		}
		// Sign-in without its throttle store fails closed, clearly.
		const refused = await signIn(friend);
		tried += 1;
		expect(refused.status).toBe(503);
		expect(refused.headers.get("content-type")).toContain("application/problem+json");
		expect(refused.body).toMatchObject({ status: 503, detail: expect.stringMatching(/sign-in/i) });
		expect(refused.body.token).toBeUndefined();

		// The owner revokes while Redis is away; the revoke answers and takes effect at once.
		const revoked = await portal.request("DELETE", `/api/v1/shares/${granted.body.id}`, { headers: bearer(owner.token) });
		tried += 1;
		expect(revoked.status).toBeLessThan(300);
		expect((await readShared(friend)).status).toBe(404);

		await redis.start();
		redisDown = false;
		// Once the cacher reconnects, sign-in works again, and the revoked friend stays out.
		await eventually(async () => ((await signIn(friend)).status === 200 ? true : undefined), "sign-in after Redis returns", 30_000);
		let letThrough = 0;
		for (let i = 0; i < 20; i++) {
			const [friendRead, strangerRead, ownerRead] = await Promise.all([readShared(friend), readShared(stranger), readShared(owner)]);
			if (friendRead.status !== 404 || strangerRead.status !== 404) letThrough += 1;
			expect(ownerRead.status).toBe(200);
			tried += 3;
		}
		process.stdout.write(`\nRedis killed: ${tried} requests, ${letThrough} let through after revoke/for a stranger\n`);
		expect(letThrough).toBe(0);
	}, 90_000);
});
