import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { type AuditRecordedMessage, Channels, type UsageKind } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import { knex } from "knex";
import { infraMode } from "../../../test/support/infra";
import { activatedAccount, eventually, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { verifyAuditChains } from "../src";
import { PAGE_SIZE } from "../src/personal-data";
import { PURGE_LOCK_KEY } from "../src/retention";

/** R14–R17: usage records and counts, tracked mail links, retention with legal holds, the audit chain. */
describe("activity-log", () => {
	let portal: TestPortal;
	let db: Knex;
	let ann: { id: string; token: string };
	let compliance: { id: string; token: string };
	const DAY = 86_400_000;

	const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
	const call = <T>(action: string, params: unknown) => portal.broker.call<T, unknown>(action, params);
	const usage = (accountId: string, kind: UsageKind, at: Date, messageId = randomUUID()) =>
		portal.broker.sendToChannel(Channels.usageRecorded, {
			messageId,
			occurredAt: at.toISOString(),
			accountId,
			kind,
			at: at.toISOString(),
			detail: { ip: "203.0.113.9" },
		});
	const audit = (accountId: string, action: string, messageId = randomUUID(), detail: Record<string, unknown> = {}) =>
		portal.broker.sendToChannel(Channels.auditRecorded, {
			messageId,
			occurredAt: new Date().toISOString(),
			accountId,
			action,
			actor: { kind: "account", id: accountId },
			at: new Date().toISOString(),
			detail,
		} satisfies AuditRecordedMessage);
	const records = (accountId: string) => db("activity_log.usage_records").where({ account_id: accountId });
	const summaryOf = async (token: string) => (await portal.request("GET", "/api/v1/activity/me", { headers: auth(token) })).body;
	const countRecords = async (accountId: string, n: number) =>
		eventually(async () => ((await records(accountId)).length >= n ? true : undefined), `${n} usage records`);

	beforeAll(async () => {
		portal = await startTestPortal({ env: { LINK_HOSTS: "docs.omti.example" } });
		db = (portal.broker.getLocalService("activityLog") as unknown as { db: Knex }).db;
		const a = await activatedAccount(portal, "ann.activity@example.com");
		ann = { id: a.account.id, token: a.token };
		const staff = await call<{ accountId: string; setPasswordUrl: string }>("identity.createStaff", {
			email: "carla.compliance@omti.example",
			role: "compliance",
		});
		const token = new URL(staff.setPasswordUrl).searchParams.get("token");
		const activated = await portal.request("POST", "/api/v1/auth/activate", {
			body: { token, password: "correct horse battery staple 42" },
		});
		compliance = { id: staff.accountId, token: activated.body.token };
	}, 60_000);
	afterAll(() => portal?.stop());

	it("R14: a sign-in through the API is recorded and counted, and a failed one counted apart", async () => {
		const before = await summaryOf(ann.token);
		const ok = await portal.request("POST", "/api/v1/auth/sign-in", {
			body: { login: "ann.activity@example.com", password: "correct horse battery staple 42" },
		});
		expect(ok.status).toBe(200);
		const bad = await portal.request("POST", "/api/v1/auth/sign-in", {
			body: { login: "ann.activity@example.com", password: "wrong password entirely" },
		});
		expect(bad.status).toBe(401);
		const after = await eventually(async () => {
			const s = await summaryOf(ann.token);
			return s.signIns.total > before.signIns.total && s.failedSignIns.total > before.failedSignIns.total ? s : undefined;
		}, "the sign-ins to be counted");
		// Activation's own sign-in may still be on its way through identity's outbox: at least ours arrived.
		expect(after.signIns.total).toBeGreaterThanOrEqual(before.signIns.total + 1);
		expect(after.failedSignIns.total).toBe(before.failedSignIns.total + 1);
		expect(after.recent[0].kind).toMatch(/^sign-in/);
	});

	it("R14: a sign-in message delivered twice is recorded once", async () => {
		const accountId = randomUUID();
		const messageId = randomUUID();
		await usage(accountId, "sign-in", new Date(), messageId);
		await usage(accountId, "sign-in", new Date(), messageId);
		await usage(accountId, "sign-in", new Date());
		await countRecords(accountId, 2);
		await call("activityLog.flush", {});
		expect(await records(accountId)).toHaveLength(2);
		const [counter] = await db("activity_log.daily_counts").where({ account_id: accountId, kind: "sign-in" });
		expect(Number(counter.count)).toBe(2);
	});

	it("R14: a click in the portal is counted; bad input gets 422 and writes nothing; anonymous gets 401", async () => {
		const before = (await summaryOf(ann.token)).linkClicks.total;
		const ok = await portal.request("POST", "/api/v1/activity/clicks", {
			headers: auth(ann.token),
			body: { linkId: "docs-rb9", href: "/products/RB9" },
		});
		expect(ok.status).toBe(204);
		const after = await summaryOf(ann.token);
		expect(after.linkClicks).toEqual({ total: before + 1, last30Days: before + 1 });
		expect(after.recent[0]).toMatchObject({ kind: "link-click", detail: { linkId: "docs-rb9", href: "/products/RB9" } });

		const bad = await portal.request("POST", "/api/v1/activity/clicks", {
			headers: auth(ann.token),
			body: { linkId: "", href: "/x", extra: 1 },
		});
		expect(bad.status).toBe(422);
		expect(bad.headers.get("content-type")).toContain("application/problem+json");
		const anonymous = await portal.request("POST", "/api/v1/activity/clicks", { body: { linkId: "a", href: "/x" } });
		expect(anonymous.status).toBe(401);
		expect((await summaryOf(ann.token)).linkClicks.total).toBe(before + 1);
	});

	it("R14: a mail link redirects only to the portal or allow-listed hosts and counts the click", async () => {
		const { code, url } = await call<{ code: string; url: string }>("activityLog.createLink", {
			accountId: ann.id,
			linkId: "welcome-profile",
			href: `${portal.config.publicUrl}/profile`,
		});
		expect(url).toBe(`${portal.config.publicUrl}/l/${code}`);
		const before = (await summaryOf(ann.token)).linkClicks.total;
		const followed = await portal.request("GET", `/l/${code}?utm_source=mail`);
		expect(followed.status).toBe(302);
		expect(followed.headers.get("location")).toBe(`${portal.config.publicUrl}/profile`);
		expect((await summaryOf(ann.token)).linkClicks.total).toBe(before + 1);
		// LINK_HOSTS adds hosts besides the portal's own.
		const docs = await call<{ code: string }>("activityLog.createLink", {
			accountId: ann.id,
			linkId: "docs",
			href: "https://docs.omti.example/rb9",
		});
		const toDocs = await portal.request("GET", `/l/${docs.code}`);
		expect(toDocs.status).toBe(302);
		expect(toDocs.headers.get("location")).toBe("https://docs.omti.example/rb9");
		expect((await summaryOf(ann.token)).linkClicks.total).toBe(before + 2);

		await expect(
			call("activityLog.createLink", { accountId: ann.id, linkId: "x", href: "https://evil.example/phish" }),
		).rejects.toMatchObject({ code: 422 });
		await expect(call("activityLog.createLink", { linkId: "x", href: "javascript:alert(1)" })).rejects.toMatchObject({ code: 422 });
		// A link stored for a host that is no longer allowed is never followed.
		await db("activity_log.links").insert({ code: "A".repeat(22), account_id: ann.id, link_id: "old", href: "https://evil.example/" });
		const refused = await portal.request("GET", `/l/${"A".repeat(22)}`);
		expect(refused.status).toBe(404);
		expect(refused.headers.get("location")).toBeNull();
		expect((await portal.request("GET", `/l/${"B".repeat(22)}`)).status).toBe(404);
		expect((await portal.request("GET", "/l/not-a-code")).status).toBe(422);
		expect((await summaryOf(ann.token)).linkClicks.total).toBe(before + 2);
	});

	it("R16: the owner sees totals, the last 30 days, the retention period, recent records and a daily series", async () => {
		const b = await activatedAccount(portal, "ben.activity@example.com");
		const now = Date.now();
		await usage(b.account.id, "link-click", new Date(now - 40 * DAY));
		await usage(b.account.id, "link-click", new Date(now - 2 * DAY));
		await usage(b.account.id, "link-click", new Date(now - 2 * DAY));
		await usage(b.account.id, "sign-in-failed", new Date(now - 45 * DAY));
		await countRecords(b.account.id, 4);
		await call("activityLog.flush", {});
		const res = await portal.request("GET", "/api/v1/activity/me", { headers: auth(b.token) });
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({
			linkClicks: { total: 3, last30Days: 2 },
			failedSignIns: { total: 1, last30Days: 0 },
			retentionDays: 90,
		});
		expect(res.body.daily).toHaveLength(30);
		const twoDaysAgo = new Date(now - 2 * DAY).toISOString().slice(0, 10);
		expect(res.body.daily.find((d: { day: string }) => d.day === twoDaysAgo)).toMatchObject({ linkClicks: 2 });
		const times = res.body.recent.map((r: { at: string }) => r.at);
		expect([...times].sort().reverse()).toEqual(times);
		// Someone else's records never show.
		expect(JSON.stringify(res.body)).not.toContain(ann.id);
		expect((await portal.request("GET", "/api/v1/activity/me")).status).toBe(401);
	});

	it("R17: audit events form a hash chain per account, shown to the owner; duplicates and concurrent writers do not fork it", async () => {
		const dup = randomUUID();
		await Promise.all([
			...Array.from({ length: 20 }, (_, i) => audit(ann.id, "sharing.grant.created", randomUUID(), { i })),
			audit(ann.id, "identity.password.changed", dup),
			audit(ann.id, "identity.password.changed", dup),
		]);
		const trail = await eventually(async () => {
			const res = await portal.request("GET", "/api/v1/activity/me/audit?limit=200", { headers: auth(ann.token) });
			return res.body.entries.filter((e: { action: string }) => e.action === "sharing.grant.created").length >= 20 ? res.body : undefined;
		}, "the audit entries");
		const entries = [...trail.entries].reverse();
		expect(entries.filter((e: { action: string }) => e.action === "identity.password.changed")).toHaveLength(1);
		entries.forEach((e: { seq: number; prevHash: string; hash: string }, i: number) => {
			expect(e.seq).toBe(i + 1);
			expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
			expect(e.prevHash).toBe(i === 0 ? "0".repeat(64) : entries[i - 1].hash);
		});
		const page = await portal.request("GET", "/api/v1/activity/me/audit?limit=5", { headers: auth(ann.token) });
		expect(page.body.entries).toHaveLength(5);
		const next = await portal.request("GET", `/api/v1/activity/me/audit?limit=5&before=${page.body.nextBefore}`, {
			headers: auth(ann.token),
		});
		expect(next.body.entries[0].seq).toBe(page.body.entries[4].seq - 1);
		expect((await verifyAuditChains(db)).broken).toEqual([]);
	});

	it("R17: the verifier reports the first broken link of a tampered chain (changed, removed, truncated)", async () => {
		const victim = randomUUID();
		for (let i = 1; i <= 5; i++) await audit(victim, "compliance.consent.given", randomUUID(), { n: i });
		await eventually(
			async () => ((await db("activity_log.audit_entries").where({ account_id: victim })).length === 5 ? true : undefined),
			"5 entries",
		);
		expect((await verifyAuditChains(db)).broken).toEqual([]);

		const original = await db("activity_log.audit_entries").where({ account_id: victim, seq: 3 }).first("detail");
		await db("activity_log.audit_entries")
			.where({ account_id: victim, seq: 3 })
			.update({ detail: JSON.stringify({ n: 99 }) });
		let report = await verifyAuditChains(db);
		expect(report.broken).toEqual([{ accountId: victim, seq: 3, problem: expect.stringContaining("changed") }]);

		if (infraMode) {
			// The operator's command against the same database: non-zero exit, the broken link named.
			const run = promisify(execFile)("npx", ["tsx", "--conditions=source", "services/activity-log/src/audit-verify.ts"], {
				cwd: `${__dirname}/../../..`,
				env: { ...process.env, DATABASE_URL: portal.config.databaseUrl ?? "", NODE_ENV: "test" },
			});
			await expect(run).rejects.toMatchObject({ code: 1, stdout: expect.stringContaining(`BROKEN account ${victim} at entry 3`) });
		}

		await db("activity_log.audit_entries")
			.where({ account_id: victim, seq: 3 })
			.update({ detail: JSON.stringify(original.detail) });
		expect((await verifyAuditChains(db)).broken).toEqual([]);
		await db("activity_log.audit_entries").where({ account_id: victim, seq: 2 }).delete();
		report = await verifyAuditChains(db);
		expect(report.broken).toEqual([{ accountId: victim, seq: 3, problem: expect.stringContaining("missing") }]);

		const other = randomUUID();
		for (let i = 1; i <= 3; i++) await audit(other, "sharing.grant.revoked", randomUUID());
		await eventually(
			async () => ((await db("activity_log.audit_entries").where({ account_id: other })).length === 3 ? true : undefined),
			"3 entries",
		);
		await db("activity_log.audit_entries").where({ account_id: other, seq: 3 }).delete();
		report = await verifyAuditChains(db);
		expect(report.broken).toContainEqual({ accountId: other, seq: 2, problem: expect.stringContaining("head") });
	});

	it("R15: staff with the compliance role place and lift legal holds (audited); others get 403", async () => {
		const customer = await portal.request("GET", "/api/v1/admin/legal-holds", { headers: auth(ann.token) });
		expect(customer.status).toBe(403);
		const placed = await portal.request("POST", "/api/v1/admin/legal-holds", {
			headers: auth(compliance.token),
			body: { accountId: ann.id, reason: "Litigation 2026-CV-0042" },
		});
		expect(placed.status).toBe(201);
		expect(placed.body).toMatchObject({ accountId: ann.id, placedBy: compliance.id, liftedAt: null });
		const again = await portal.request("POST", "/api/v1/admin/legal-holds", {
			headers: auth(compliance.token),
			body: { accountId: ann.id, reason: "twice" },
		});
		expect(again.status).toBe(409);
		const unknown = await portal.request("POST", "/api/v1/admin/legal-holds", {
			headers: auth(compliance.token),
			body: { accountId: randomUUID(), reason: "nobody" },
		});
		expect(unknown.status).toBe(404);
		const list = await portal.request("GET", "/api/v1/admin/legal-holds", { headers: auth(compliance.token) });
		expect(list.body.holds.map((h: { accountId: string }) => h.accountId)).toEqual([ann.id]);
		const trail = await portal.request("GET", "/api/v1/activity/me/audit", { headers: auth(ann.token) });
		expect(trail.body.entries[0]).toMatchObject({ action: "activity.legalHold.placed", actor: { kind: "staff", id: compliance.id } });
	});

	it("R15: the purge deletes old records, keeps recent ones and everything of a held account, and logs the run", async () => {
		const free = randomUUID();
		const now = Date.now();
		for (const accountId of [free, ann.id]) {
			await usage(accountId, "sign-in", new Date(now - 200 * DAY));
			await usage(accountId, "link-click", new Date(now - 100 * DAY));
			await usage(accountId, "sign-in", new Date(now - 10 * DAY));
		}
		await audit(free, "identity.password.changed");
		await countRecords(free, 3);
		await eventually(
			async () => ((await db("activity_log.audit_entries").where({ account_id: free })).length === 1 ? true : undefined),
			"audit",
		);
		await call("activityLog.flush", {});
		const annBefore = (await records(ann.id)).length;

		const outcome = await call<{ ran: boolean; usageDeleted: number; heldAccounts: number }>("activityLog.purge", {
			now: new Date(now).toISOString(),
		});
		expect(outcome).toMatchObject({ ran: true, heldAccounts: 1 });
		expect(outcome.usageDeleted).toBeGreaterThanOrEqual(2);
		const kept = await records(free);
		expect(kept).toHaveLength(1);
		expect(new Date(kept[0].at).getTime()).toBe(now - 10 * DAY);
		expect(await db("activity_log.daily_counts").where({ account_id: free })).toHaveLength(1);
		expect(await records(ann.id)).toHaveLength(annBefore);
		expect(await db("activity_log.audit_entries").where({ account_id: free })).toHaveLength(1);
		const [run] = await db("activity_log.purge_runs").orderBy("started_at", "desc").limit(1);
		expect(run).toMatchObject({ usage_deleted: outcome.usageDeleted, held_accounts: 1 });

		// Lifting the hold lets the next run delete the held account's old records.
		const lifted = await portal.request("DELETE", `/api/v1/admin/legal-holds/${ann.id}`, { headers: auth(compliance.token) });
		expect(lifted.status).toBe(204);
		expect((await portal.request("DELETE", `/api/v1/admin/legal-holds/${ann.id}`, { headers: auth(compliance.token) })).status).toBe(404);
		await call("activityLog.purge", { now: new Date(now).toISOString() });
		const annAfter = await records(ann.id);
		expect(annAfter.every((r: { at: Date }) => new Date(r.at).getTime() > now - 90 * DAY)).toBe(true);
		expect(annAfter.length).toBeLessThan(annBefore);
		const trail = await portal.request("GET", "/api/v1/activity/me/audit", { headers: auth(ann.token) });
		expect(trail.body.entries[0]).toMatchObject({ action: "activity.legalHold.lifted" });
	});

	it("R15: two purges at once do not both run", async () => {
		const [a, b] = await Promise.all([call<{ ran: boolean }>("activityLog.purge", {}), call<{ ran: boolean }>("activityLog.purge", {})]);
		expect([a.ran, b.ran].sort()).toEqual([false, true]);
		if (infraMode) {
			// Another replica (another connection) holds the lock: this one skips its round.
			const other = knex({ client: "pg", connection: portal.config.databaseUrl ?? "", pool: { min: 1, max: 1 } });
			try {
				await other.transaction(async (trx) => {
					await trx.raw("select pg_advisory_xact_lock(?)", [PURGE_LOCK_KEY]);
					expect(await call("activityLog.purge", {})).toEqual({ ran: false, reason: "another replica is purging" });
				});
				expect(await call("activityLog.purge", {})).toMatchObject({ ran: true });
			} finally {
				await other.destroy();
			}
		}
	});

	it("R14: the personal-data export pages through every record of an account by keyset", async () => {
		const heavy = randomUUID();
		const count = 2 * PAGE_SIZE + 300;
		const rows = Array.from({ length: count }, (_, i) => ({
			message_id: `seed-${heavy}-${i}`,
			account_id: heavy,
			kind: "link-click",
			at: new Date(Date.now() - (i % 50) * 60_000),
			detail: JSON.stringify({ linkId: `l${i}` }),
		}));
		await db.batchInsert("activity_log.usage_records", rows, 500);
		await audit(heavy, "sharing.grant.created");
		await eventually(
			async () => ((await db("activity_log.audit_entries").where({ account_id: heavy })).length === 1 ? true : undefined),
			"audit",
		);
		const collected: Record<string, unknown[]> = {};
		let cursor: string | undefined;
		let pages = 0;
		let usagePages = 0;
		do {
			const page = await call<{ records: Record<string, unknown[]>; nextCursor?: string }>("activityLog.personalData", {
				op: "export",
				accountId: heavy,
				...(cursor ? { cursor } : {}),
			});
			for (const [table, list] of Object.entries(page.records)) collected[table] = [...(collected[table] ?? []), ...list];
			if (page.records.usage_records?.length) usagePages += 1;
			cursor = page.nextCursor;
			pages += 1;
		} while (cursor);
		expect(pages).toBeGreaterThanOrEqual(3);
		expect(usagePages).toBe(3);
		expect(collected.usage_records).toHaveLength(count);
		expect(new Set(collected.usage_records?.map((r) => (r as { id: string }).id)).size).toBe(count);
		expect(collected.audit_entries).toHaveLength(1);
		const description = await call<{ categories: { tables: string[] }[] }>("activityLog.personalData", { op: "describe" });
		const described = description.categories.flatMap((c) => c.tables).sort();
		const withAccount = await db("information_schema.columns")
			.where({ table_schema: "activity_log", column_name: "account_id" })
			.select("table_name");
		expect(described).toEqual(withAccount.map((t: { table_name: string }) => `activity_log.${t.table_name}`).sort());
		expect(JSON.stringify(collected)).not.toContain("message_id");
	});

	it("R26: exported times are what JSON writes for the time as a Date (UTC, to the millisecond)", async () => {
		const accountId = randomUUID();
		await db.raw(
			`insert into activity_log.usage_records (message_id, account_id, kind, at, detail)
			 values (?, ?, 'sign-in', '2026-03-01 12:34:56.789999+02', '{}'), (?, ?, 'sign-in', '2026-03-02 00:00:00+00', '{}')`,
			[`iso-${accountId}-1`, accountId, `iso-${accountId}-2`, accountId],
		);
		const page = await call<{ records: Record<string, { at: unknown }[]> }>("activityLog.personalData", { op: "export", accountId });
		const stored: { at: Date }[] = await db("activity_log.usage_records").where({ account_id: accountId }).orderBy("id").select("at");
		expect(page.records.usage_records?.map((r) => r.at)).toEqual(["2026-03-01T10:34:56.789Z", "2026-03-02T00:00:00.000Z"]);
		expect(JSON.stringify(page.records.usage_records?.map((r) => r.at))).toBe(JSON.stringify(stored.map((r) => r.at)));
	});
});
