import type { Knex } from "@portal/platform";
import { startTestPortal, type TestPortal } from "../../../test/support/portal";
import { compliance, customer, mailWith, PASSWORD, type Session, setClock, staff } from "./helpers";

const DAY = 86_400_000;
const plusMonths = (date: Date, months: number) => {
	const next = new Date(date.getTime());
	next.setUTCMonth(next.getUTCMonth() + months);
	return next;
};

/** R25, R26: CCPA access requests, their clocks and limits, and the personal-information inventory. */
describe("compliance: privacy requests and the inventory", () => {
	let portal: TestPortal;
	let ann: Session;
	let bob: Session;
	let officer: Session;

	beforeAll(async () => {
		portal = await startTestPortal();
		[ann, bob] = await Promise.all([customer(portal, "ann@example.com", { region: "CA" }), customer(portal, "bob@example.com")]);
		officer = await staff(portal, "officer@omti.example");
	});
	afterEach(() => setClock(portal, () => new Date()));
	afterAll(() => portal?.stop());

	const ask = (who: Session, body: object = { type: "access" }) =>
		portal.request("POST", "/api/v1/privacy/requests", { body, headers: who.headers });
	const reauthenticate = (who: Session) =>
		portal.request("POST", "/api/v1/auth/reauthenticate", { body: { password: PASSWORD }, headers: who.headers });
	const download = (who: Session, id: string, format = "json") =>
		portal.request("GET", `/api/v1/privacy/requests/${id}/download?format=${format}`, { headers: who.headers });

	it("R25: a request is received at once by mail, due in 45 days, with the residency basis recorded", async () => {
		const t0 = new Date("2027-01-10T09:00:00Z");
		setClock(portal, t0);
		const res = await ask(ann);
		expect(res.status).toBe(202);
		expect(res.body).toMatchObject({
			status: "received",
			receivedAt: t0.toISOString(),
			dueAt: new Date(t0.getTime() + 45 * DAY).toISOString(),
			residencyBasis: "profile-region-ca",
		});
		const receipt = await mailWith(portal, "ann@example.com", "privacy-request-received");
		expect(receipt?.text).toContain(new Date(t0.getTime() + 45 * DAY).toUTCString());
		expect((await ask(bob, { type: "access", californiaResident: true })).body.residencyBasis).toBe("self-declared");
		expect((await ask(bob, { type: "deletion" })).status).toBe(422);
	});

	it("R25: a third request within 12 months gets 429 with the date the next is possible, and is allowed once the first is 12 months old", async () => {
		const t0 = new Date("2027-01-10T09:00:00Z");
		setClock(portal, new Date(t0.getTime() + 30 * DAY));
		expect((await ask(ann)).status).toBe(202);

		setClock(portal, new Date(t0.getTime() + 200 * DAY));
		const third = await ask(ann);
		expect(third.status).toBe(429);
		expect(third.body).toMatchObject({ code: "RATE_LIMITED", nextAvailableAt: plusMonths(t0, 12).toISOString() });
		expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
		const centre = await portal.request("GET", "/api/v1/privacy/centre", { headers: ann.headers });
		expect(centre.body.requests).toMatchObject({ remainingThisYear: 0, nextAvailableAt: plusMonths(t0, 12).toISOString() });

		setClock(portal, new Date(plusMonths(t0, 12).getTime() + 1_000));
		expect((await ask(ann)).status).toBe(202);
		const fourth = await ask(ann);
		expect(fourth.status).toBe(429);
		expect(fourth.body.nextAvailableAt).toBe(plusMonths(new Date(t0.getTime() + 30 * DAY), 12).toISOString());
	});

	it("R25: staff see the queue with due dates; one 45-day extension with notice; status history", async () => {
		expect((await portal.request("GET", "/api/v1/admin/privacy/requests", { headers: bob.headers })).status).toBe(403);
		const queue = await portal.request("GET", "/api/v1/admin/privacy/requests", { headers: officer.headers });
		const bobs = queue.body.find((r: { accountId: string }) => r.accountId === bob.id);
		expect(bobs).toMatchObject({ status: "received", email: "bob@example.com", dueAt: expect.any(String) });

		const extended = await portal.request("POST", `/api/v1/admin/privacy/requests/${bobs.id}/extend`, {
			body: { reason: "We are checking archived records." },
			headers: officer.headers,
		});
		expect(extended.status).toBe(200);
		expect(extended.body).toMatchObject({ status: "extended", dueAt: new Date(Date.parse(bobs.dueAt) + 45 * DAY).toISOString() });
		const again = await portal.request("POST", `/api/v1/admin/privacy/requests/${bobs.id}/extend`, {
			body: { reason: "More." },
			headers: officer.headers,
		});
		expect(again.status).toBe(409);
		const notice = await mailWith(portal, "bob@example.com", "privacy-request-extended");
		expect(notice.text).toContain("We are checking archived records.");
		const mine = await portal.request("GET", `/api/v1/privacy/requests/${bobs.id}`, { headers: bob.headers });
		expect(mine.body.history.map((h: { status: string }) => h.status)).toEqual(["received", "extended"]);
		expect((await portal.request("GET", `/api/v1/privacy/requests/${bobs.id}`, { headers: ann.headers })).status).toBe(404);
	});

	it("R26: the inventory is released only to the owner, after re-entering the password, through a link that expires; never secrets", async () => {
		const [request] = (await portal.request("GET", "/api/v1/privacy/requests", { headers: bob.headers })).body;
		expect((await download(bob, request.id)).status).toBe(409);
		const completed = await portal.request("POST", `/api/v1/admin/privacy/requests/${request.id}/complete`, { headers: officer.headers });
		expect(completed.status).toBe(200);
		await mailWith(portal, "bob@example.com", "privacy-request-completed");

		const before = await download(bob, request.id);
		expect(before.status).toBe(403);
		expect(before.body.code).toBe("REAUTHENTICATION_REQUIRED");
		expect((await reauthenticate(bob)).status).toBe(204);
		expect((await reauthenticate(ann)).status).toBe(204);
		expect((await download(ann, request.id)).status).toBe(404);

		const res = await download(bob, request.id);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toContain("application/json");
		const services = res.body.services.map((s: { service: string }) => s.service);
		expect(services).toEqual(expect.arrayContaining(["identity", "compliance"]));
		for (const service of res.body.services) {
			expect(service.categories.length).toBeGreaterThan(0);
			for (const category of service.categories)
				expect(category).toMatchObject({ purpose: expect.any(String), source: expect.any(String), recipients: expect.any(Array) });
		}
		const identityDb = (portal.broker.getLocalService("identity") as unknown as { db: Knex }).db;
		const account = await identityDb("identity.accounts").where({ id: bob.id }).first();
		const sessions = await identityDb("identity.sessions").where({ account_id: bob.id }).select("token_hash");
		const text = JSON.stringify(res.body);
		expect(text).toContain("bob@example.com");
		expect(text).not.toContain(account.password_hash);
		for (const s of sessions) expect(text).not.toContain(s.token_hash);
		expect(text).not.toMatch(/\$argon2|password_hash|token_hash|totp_secret/);

		const html = await download(bob, request.id, "html");
		expect(html.status).toBe(200);
		expect(html.headers.get("content-type")).toContain("text/html");
		expect(html.body).toContain("<h1>Your personal information at OMTI</h1>");
		expect(html.body).toContain("bob@example.com");
		expect(html.body).not.toContain(account.password_hash);

		setClock(portal, new Date(Date.parse(completed.body.downloadExpiresAt) + 1_000));
		expect((await download(bob, request.id)).status).toBe(410);
	});

	it("R26: a service added later is part of the inventory without touching compliance", async () => {
		portal.broker.createService({
			name: "loyalty",
			actions: {
				personalData: {
					params: { op: "string", accountId: { type: "uuid", optional: true } },
					handler(ctx: { params: { op: string; accountId?: string } }) {
						if (ctx.params.op === "describe")
							return {
								service: "loyalty",
								categories: [
									{
										category: "Points",
										fields: ["points"],
										purpose: "Rewards",
										source: "Purchases",
										recipients: [],
										retention: "2 years",
										tables: [],
									},
								],
							};
						return { service: "loyalty", records: { points: [{ points: 42, accountId: ctx.params.accountId }] } };
					},
				},
			},
		});
		await portal.broker.waitForServices(["loyalty"]);
		const lena = await customer(portal, "lena@example.com");
		const requested = await ask(lena);
		await portal.request("POST", `/api/v1/admin/privacy/requests/${requested.body.id}/complete`, { headers: officer.headers });
		await reauthenticate(lena);
		const res = await download(lena, requested.body.id);
		expect(res.status).toBe(200);
		expect(res.body.services).toContainEqual(
			expect.objectContaining({ service: "loyalty", records: [{ collection: "points", record: { points: 42, accountId: lena.id } }] }),
		);
		await portal.broker.destroyService(portal.broker.getLocalService("loyalty"));
	});

	it("R26: every table with an account_id column is listed in its service's personal-data description", async () => {
		const db = compliance(portal).db;
		const { rows } = await db.raw(
			"select table_schema, table_name from information_schema.columns where column_name = 'account_id' and table_schema not in ('pg_catalog', 'information_schema') order by 1, 2",
		);
		const owners = new Map<string, string>();
		for (const service of portal.broker.services) {
			const schema = (service.metadata as { schema?: string }).schema;
			if (schema) owners.set(schema, service.name);
		}
		const missing: string[] = [];
		const described = new Map<string, string[]>();
		for (const { table_schema: schema, table_name: table } of rows as { table_schema: string; table_name: string }[]) {
			const service = owners.get(schema);
			if (!service) {
				missing.push(`${schema}.${table} (no service owns schema ${schema})`);
				continue;
			}
			if (!described.has(service)) {
				const description = await portal.broker
					.call<{ categories: { tables: string[] }[] }, { op: string }>(`${service}.personalData`, { op: "describe" })
					.catch(() => null);
				described.set(service, description ? description.categories.flatMap((c) => c.tables) : []);
			}
			const tables = described.get(service) ?? [];
			if (!tables.includes(`${schema}.${table}`) && !tables.includes(table)) missing.push(`${schema}.${table} (service ${service})`);
		}
		expect(rows.length).toBeGreaterThan(5);
		expect(missing).toEqual([]);
	});

	it("R26: the inventory of an account with 100 000 activity rows streams without loading them all into memory", async () => {
		const heavy = await customer(portal, "heavy@example.com");
		const activityDb = (portal.broker.getLocalService("activityLog") as unknown as { db: Knex }).db;
		await activityDb.raw(
			`insert into activity_log.usage_records (message_id, account_id, kind, at, detail)
			 select 'bulk-' || g, ?, 'link-click', now() - g * interval '1 second', '{"linkId":"docs","href":"https://omti.example/docs"}'::jsonb
			 from generate_series(1, 100000) g`,
			[heavy.id],
		);
		const expectedRows = (await activityDb("activity_log.usage_records").where({ account_id: heavy.id }).count({ n: "*" }))[0]?.n;
		// A paging service sorted before activityLog shows the stream is pulled: while the client does not
		// read, no further pages are asked for.
		let pagesServed = 0;
		const PROBE_PAGES = 200;
		portal.broker.createService({
			name: "aaaPagingProbe",
			actions: {
				personalData: {
					params: { op: "string", accountId: { type: "uuid", optional: true }, cursor: { type: "string", optional: true } },
					handler(ctx: { params: { op: string; cursor?: string } }) {
						if (ctx.params.op === "describe") return { service: "aaaPagingProbe", categories: [] };
						const page = Number(ctx.params.cursor ?? 0);
						pagesServed = page + 1;
						const records = { probe: Array.from({ length: 1_000 }, (_, i) => ({ n: page * 1_000 + i, filler: "x".repeat(80) })) };
						return page + 1 < PROBE_PAGES
							? { service: "aaaPagingProbe", records, nextCursor: String(page + 1) }
							: { service: "aaaPagingProbe", records };
					},
				},
			},
		});
		await portal.broker.waitForServices(["aaaPagingProbe"]);
		const requested = await ask(heavy);
		await portal.request("POST", `/api/v1/admin/privacy/requests/${requested.body.id}/complete`, { headers: officer.headers });
		await reauthenticate(heavy);

		const baseline = process.memoryUsage();
		let peakHeap = baseline.heapUsed;
		let peakRss = baseline.rss;
		const sampler = setInterval(() => {
			const now = process.memoryUsage();
			peakHeap = Math.max(peakHeap, now.heapUsed);
			peakRss = Math.max(peakRss, now.rss);
		}, 5);
		const started = Date.now();
		const response = await fetch(`${portal.url}/api/v1/privacy/requests/${requested.body.id}/download?format=json`, {
			headers: heavy.headers,
		});
		expect(response.status).toBe(200);
		const reader = (response.body as ReadableStream<Uint8Array>).getReader();
		const decoder = new TextDecoder();
		const marker = '"collection":"usage_records"';
		let carry = "";
		let rowsSeen = 0;
		let bytes = 0;
		let chunks = 0;
		let firstChunkMs = 0;
		let pagesWhilePaused = 0;
		for (;;) {
			const { done, value } = await reader.read();
			if (done) break;
			if (chunks === 0) {
				firstChunkMs = Date.now() - started;
				await new Promise((resolve) => setTimeout(resolve, 1_500));
				pagesWhilePaused = pagesServed;
			}
			chunks += 1;
			bytes += value.byteLength;
			const text = carry + decoder.decode(value, { stream: true });
			rowsSeen += text.split(marker).length - 1;
			// Keep the tail that could hold the start of a marker split across chunks, minus anything already counted.
			const tail = text.slice(-marker.length + 1);
			carry = tail.includes(marker) ? "" : tail;
		}
		const totalMs = Date.now() - started;
		clearInterval(sampler);
		const heapGrowthMb = (peakHeap - baseline.heapUsed) / 2 ** 20;
		process.stdout.write(
			`R26 inventory: ${rowsSeen} activity rows, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${chunks} chunks, first byte ${firstChunkMs} ms, total ${totalMs} ms, peak heap +${heapGrowthMb.toFixed(1)} MiB (peak ${(peakHeap / 2 ** 20).toFixed(0)} MiB), peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB; probe pages read ahead while paused: ${pagesWhilePaused}/${PROBE_PAGES}\n`,
		);
		// Sign-ins recorded meanwhile may add a row or two; the 100 000 are all there.
		const rowsAfter = (await activityDb("activity_log.usage_records").where({ account_id: heavy.id }).count({ n: "*" }))[0]?.n;
		expect(rowsSeen).toBeGreaterThanOrEqual(Number(expectedRows));
		expect(rowsSeen).toBeLessThanOrEqual(Number(rowsAfter));
		// Streamed and pulled: a paused client stops the paging (only what fits in socket buffers is read ahead).
		expect(chunks).toBeGreaterThan(50);
		expect(pagesWhilePaused).toBeLessThan(PROBE_PAGES / 2);
		expect(pagesServed).toBe(PROBE_PAGES);
		await portal.broker.destroyService(portal.broker.getLocalService("aaaPagingProbe"));
	}, 180_000);

	it("R25: request records are kept 24 months, then deleted", async () => {
		const svc = compliance(portal);
		const cutoff = plusMonths(new Date("2027-01-10T09:00:00Z"), 1);
		const old = await svc.db("compliance.privacy_requests").where("received_at", "<", cutoff).select("id");
		const kept = await svc.db("compliance.privacy_requests").where("received_at", ">=", cutoff).select("id");
		expect(old.length).toBeGreaterThan(0);
		setClock(portal, plusMonths(cutoff, 24));
		expect(await svc.purgeExpiredRequests()).toBe(old.length);
		const left = await svc.db("compliance.privacy_requests").select("id");
		expect(left.map((r) => r.id).sort()).toEqual(kept.map((r) => r.id).sort());
		expect(
			await svc.db("compliance.privacy_request_events").whereIn(
				"request_id",
				old.map((r) => r.id),
			),
		).toEqual([]);
	});
});
