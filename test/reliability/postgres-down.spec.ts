import { readiness } from "@portal/platform";
import { describeInfra } from "../support/infra";
import { activatedAccount, eventually, startTestPortal, type TestPortal } from "../support/portal";
import { type FaultServer, faultInfra, postgresServer } from "./servers";

/**
 * R30/R31 with the database gone: Postgres is stopped (immediate shutdown, connections cut) under
 * a stream of profile edits. Users get a fast 503 problem+json, readiness says not ready, no edit
 * is half-written (a profile change and its revision commit together), and the portal recovers
 * on its own once Postgres is back.
 */
describeInfra("fault: Postgres stopped", () => {
	let postgres: FaultServer;
	let portal: TestPortal;
	const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

	beforeAll(async () => {
		postgres = await postgresServer();
		portal = await startTestPortal({ infra: faultInfra({ postgres }) });
	}, 60_000);

	afterAll(async () => {
		await portal?.stop();
		await postgres?.destroy();
	}, 30_000);

	it("R30, R31: Postgres stopped mid-edits: 503 fast, readiness false, no half-written change, recovery without restart", async () => {
		const people = await Promise.all([0, 1, 2].map((i) => activatedAccount(portal, `pg-fault-${i}@example.com`)));
		const acknowledged = new Map<string, string[]>(people.map((p) => [p.account.id, []]));
		const statuses: number[] = [];
		let writing = true;

		/** Each person edits their own profile in a loop, always with the ETag last read. */
		const editor = async (person: (typeof people)[number]) => {
			let n = 0;
			while (writing) {
				const read = await portal.request("GET", "/api/v1/profiles/me", { headers: bearer(person.token) });
				if (read.status !== 200) {
					statuses.push(read.status);
					await new Promise((r) => setTimeout(r, 100));
					continue;
				}
				const value = `Edit ${person.account.id.slice(0, 8)} ${n++}`;
				const started = Date.now();
				const res = await portal.request("PATCH", "/api/v1/profiles/me", {
					body: { name: { familyName: value } },
					headers: { ...bearer(person.token), "If-Match": read.headers.get("etag") ?? "" },
				});
				statuses.push(res.status);
				if (res.status === 200) acknowledged.get(person.account.id)?.push(value);
				else {
					expect({ status: res.status, type: res.headers.get("content-type") }).toEqual({
						status: 503,
						type: expect.stringContaining("application/problem+json"),
					});
					expect(Date.now() - started).toBeLessThan(portal.broker.options.requestTimeout ?? 10_000);
				}
			}
		};
		const editing = Promise.all(people.map(editor));
		await new Promise((r) => setTimeout(r, 1_500));

		await postgres.kill();
		const down = Date.now();
		// A read the database must answer (the owner's own view may come from the cache meanwhile).
		const during = await portal.request("GET", "/api/v1/profiles/me/revisions", { headers: bearer(people[0]?.token ?? "") });
		expect(during.status).toBe(503);
		expect(during.headers.get("content-type")).toContain("application/problem+json");
		expect(during.body).toMatchObject({ status: 503 });
		expect(Date.now() - down).toBeLessThan(10_000);
		expect((await readiness(portal.broker)).ready).toBe(false);
		await new Promise((r) => setTimeout(r, 2_000));

		await postgres.start();
		await eventually(async () => ((await readiness(portal.broker)).ready ? true : undefined), "readiness after Postgres returns", 30_000);
		await new Promise((r) => setTimeout(r, 1_500));
		writing = false;
		await editing;

		// Every acknowledged edit is in the history, and the profile is exactly its latest revision.
		let checked = 0;
		for (const person of people) {
			const profile = await portal.request("GET", "/api/v1/profiles/me", { headers: bearer(person.token) });
			const history = await portal.request("GET", "/api/v1/profiles/me/revisions?limit=500", { headers: bearer(person.token) });
			expect([profile.status, history.status]).toEqual([200, 200]);
			const latest = history.body[0];
			expect(profile.body.version).toBe(latest.version);
			expect(profile.body.name.familyName).toBe(latest.changes.find((c: { field: string }) => c.field === "name.familyName")?.new);
			const recorded = new Set(
				history.body.flatMap((r: { changes: { field: string; new: string }[] }) =>
					r.changes.filter((c) => c.field === "name.familyName").map((c) => c.new),
				),
			);
			for (const value of acknowledged.get(person.account.id) ?? []) {
				expect(recorded.has(value)).toBe(true);
				checked += 1;
			}
		}
		const failed = statuses.filter((s) => s !== 200);
		process.stdout.write(
			`\nPostgres stopped: ${statuses.length} requests, ${checked} acknowledged edits all in history, ${failed.length} answered ${[...new Set(failed)].join(",") || "-"}\n`,
		);
		expect(failed.every((s) => s === 503)).toBe(true);
		expect(failed.length).toBeGreaterThan(0);
		expect(checked).toBeGreaterThan(0);
	}, 90_000);
});
