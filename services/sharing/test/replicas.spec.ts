import type { CheckParams, CheckResult } from "@portal/contracts";
import { describeInfra } from "../../../test/support/infra";
import { activatedAccount, startTestPortal, type TestPortal } from "../../../test/support/portal";

/**
 * R12 across replicas: two brokers (each with its own sharing service) share Postgres, NATS and
 * Redis. A grant made through one is seen by the other; a revoke made through one is refused by
 * the other on its very next call, although that replica had the "allowed" answer cached in Redis.
 */
describeInfra("sharing: two replicas, one Redis cache", () => {
	let first: TestPortal;
	let second: TestPortal;
	let owner: { token: string; account: { id: string } };
	let friend: { token: string; account: { id: string; username: string } };

	beforeAll(async () => {
		first = await startTestPortal();
		second = await startTestPortal({ infra: first.infra, services: ["gateway", "sharing", "profile"] });
		owner = await activatedAccount(first, "rita.replica@example.com");
		friend = await activatedAccount(first, "fred.replica@example.com");
	});
	afterAll(async () => {
		await second?.stop();
		await first?.stop();
	});

	const checkOn = (portal: TestPortal) =>
		portal.broker.call<CheckResult, CheckParams>("sharing.check", {
			ownerId: owner.account.id,
			actorId: friend.account.id,
			section: "name",
			permission: "view",
		});

	it("R12: a grant on one replica is allowed on the other; a revoke on one is denied on the other at once", async () => {
		expect(second.broker.getLocalService("sharing")).toBeDefined();
		expect(await checkOn(second)).toEqual({ allowed: false });

		const granted = await first.request("POST", "/api/v1/shares", {
			body: { grantee: { username: friend.account.username }, role: "viewer" },
			headers: { Authorization: `Bearer ${owner.token}` },
		});
		expect(granted.status).toBe(201);
		expect(await checkOn(second)).toEqual({ allowed: true });
		expect(await checkOn(second)).toEqual({ allowed: true });
		// The answer is in the shared Redis cache, so the next call would not ask the database.
		const key = `sharing.check:${owner.account.id}:${friend.account.id}:name:view`;
		expect(await second.broker.cacher?.get(key)).toEqual({ allowed: true, validUntil: null });
		const viaSecond = await second.request("GET", `/api/v1/profiles/${owner.account.id}`, {
			headers: { Authorization: `Bearer ${friend.token}` },
		});
		expect(viaSecond.status).toBe(200);

		const revoked = await first.request("DELETE", `/api/v1/shares/${granted.body.id}`, {
			headers: { Authorization: `Bearer ${owner.token}` },
		});
		expect(revoked.status).toBe(204);
		expect(await checkOn(second)).toEqual({ allowed: false });
		const afterRevoke = await second.request("GET", `/api/v1/profiles/${owner.account.id}`, {
			headers: { Authorization: `Bearer ${friend.token}` },
		});
		expect(afterRevoke.status).toBe(404);
	});
});
