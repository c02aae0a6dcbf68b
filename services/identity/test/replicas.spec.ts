import { describeInfra } from "../../../test/support/infra";
import { activatedAccount, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { bearer, signIn } from "./support";

/**
 * Two portal processes' worth of brokers (gateway and identity each) on one database, NATS and
 * Redis: what two replicas behind a load balancer share.
 */
describeInfra("identity: across replicas (test:infra)", () => {
	let first: TestPortal;
	let second: TestPortal;

	beforeAll(async () => {
		first = await startTestPortal();
		second = await startTestPortal({ infra: first.infra, services: ["gateway", "identity"] });
	});
	afterAll(async () => {
		await second?.stop();
		await first?.stop();
	});

	it("R4: the sign-in throttle holds across two gateway replicas sharing the cacher", async () => {
		const ann = await activatedAccount(first, "ann.replicas@example.com");
		// Alternate replicas: the five failures add up in the shared store.
		for (let i = 1; i <= 5; i++) {
			const portal = i % 2 === 0 ? second : first;
			expect((await signIn(portal, "ann.replicas", `wrong guess number ${i}`)).status).toBe(401);
		}
		const onFirst = await signIn(first, "ann.replicas", ann.password);
		const onSecond = await signIn(second, "ann.replicas", ann.password);
		expect(onFirst.status).toBe(429);
		expect(onSecond.status).toBe(429);
		expect(onSecond.headers.get("retry-after")).toBeTruthy();
	});

	it("R6/R12: a session revoked through one replica is refused at once by the other, despite its cache", async () => {
		const bo = await activatedAccount(first, "bo.replicas@example.com");
		const other = (await signIn(second, "bo.replicas", bo.password)).body.token as string;
		// Both replicas have answered for the session, so it is cached.
		for (const portal of [first, second, first, second]) {
			expect((await portal.request("GET", "/api/v1/me", { headers: bearer(other) })).status).toBe(200);
		}
		expect((await first.request("DELETE", "/api/v1/auth/sessions", { headers: bearer(bo.token) })).status).toBe(204);
		expect((await second.request("GET", "/api/v1/me", { headers: bearer(other) })).status).toBe(401);
		expect((await first.request("GET", "/api/v1/me", { headers: bearer(other) })).status).toBe(401);

		// Sign-out through the second replica is just as immediate on the first.
		expect((await first.request("GET", "/api/v1/me", { headers: bearer(bo.token) })).status).toBe(200);
		expect((await second.request("POST", "/api/v1/auth/sign-out", { headers: bearer(bo.token) })).status).toBe(204);
		expect((await first.request("GET", "/api/v1/me", { headers: bearer(bo.token) })).status).toBe(401);
	});
});
