import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Knex, openDatabase } from "@portal/platform";
import { infraMode } from "../../../test/support/infra";
import { activatedAccount, startTestPortal, type TestPortal } from "../../../test/support/portal";
import type { UsageRecord } from "../src/types";
import { insertUsageBatch } from "../src/usage.repo";
import { BatchBuffer } from "../src/usage-buffer";

/** R14 at volume: batched writes, bounded memory, nothing acknowledged is lost on a graceful stop. */
describe("activity-log: ingest", () => {
	const cleanups: (() => Promise<void>)[] = [];
	afterAll(async () => {
		for (const cleanup of cleanups.reverse()) await cleanup();
	});

	it("R14: 10 000 clicks through the gateway, stopped gracefully half way: every acknowledged click is counted after a restart", async () => {
		// Embedded mode needs a database that outlives the process's first portal: PGlite on disk.
		const dir = infraMode ? undefined : await mkdtemp(join(tmpdir(), "activity-ingest-"));
		if (dir) cleanups.push(() => rm(dir, { recursive: true, force: true }));
		if (dir) {
			// Creating the cluster (initdb) is slow on a busy machine: do it before the portal's 2 s connection timeout applies.
			const init = openDatabase({ dataDir: dir, databaseUrl: null });
			await init.raw("select 1");
			await init.destroy();
		}
		const first = await startTestPortal({ env: dir ? { DATA_DIR: dir } : {} });
		cleanups.push(() => first.infra.cleanup());
		const user = await activatedAccount(first, "load@example.com");

		const TOTAL = 10_000;
		const CONCURRENCY = 50;
		let next = 0;
		let acknowledged = 0;
		let refused = 0;
		let stopping: Promise<void> | undefined;
		const started = Date.now();
		const worker = async () => {
			while (next < TOTAL) {
				const i = next++;
				try {
					const res = await fetch(`${first.url}/api/v1/activity/clicks`, {
						method: "POST",
						headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
						body: JSON.stringify({ linkId: `load-${i}`, href: "/products/RB9" }),
					});
					await res.arrayBuffer();
					if (res.status === 204) acknowledged++;
					else refused++;
				} catch {
					refused++;
				}
				// Mid-stream, the way SIGTERM does it: the broker stops while requests are in flight.
				if (!stopping && acknowledged >= TOTAL / 2) stopping = first.broker.stop();
			}
		};
		await Promise.all(Array.from({ length: CONCURRENCY }, worker));
		await stopping;
		const seconds = (Date.now() - started) / 1000;
		console.log(
			`gateway ingest: ${acknowledged} clicks acknowledged in ${seconds.toFixed(1)} s (${Math.round(acknowledged / seconds)}/s), ${refused} refused during shutdown`,
		);
		expect(acknowledged).toBeGreaterThanOrEqual(TOTAL / 2);

		const second: TestPortal = await startTestPortal({ env: { ...first.infra.env, ...(dir ? { DATA_DIR: dir } : {}) } });
		cleanups.push(() => second.stop());
		const res = await second.request("GET", "/api/v1/activity/me", { headers: { Authorization: `Bearer ${user.token}` } });
		expect(res.status).toBe(200);
		// At least every acknowledged click; at most those sent (a click can be written and its answer lost in the shutdown).
		expect(res.body.linkClicks.total).toBeGreaterThanOrEqual(acknowledged);
		expect(res.body.linkClicks.total).toBeLessThanOrEqual(acknowledged + refused);
		const db = (second.broker.getLocalService("activityLog") as unknown as { db: Knex }).db;
		const [stored] = await db("activity_log.usage_records").where({ account_id: user.account.id, kind: "link-click" }).count({ n: "*" });
		expect(Number(stored?.n)).toBe(res.body.linkClicks.total);
	}, 120_000);

	it("R14: a batch is written in one statement: only new records are counted, per UTC day, details kept as sent", async () => {
		const portal = await startTestPortal({ services: ["activity-log"] });
		cleanups.push(() => portal.stop());
		const db = (portal.broker.getLocalService("activityLog") as unknown as { db: Knex }).db;
		const accountId = randomUUID();
		const record = (messageId: string, at: string, detail: Record<string, string> = {}): UsageRecord => ({
			messageId,
			accountId,
			kind: "sign-in",
			at: new Date(at),
			detail,
		});
		const first = [
			record("m1", "2026-01-01T23:59:59.999Z", { ip: 'quote " backslash \\ ü 😀' }),
			record("m2", "2026-01-02T00:00:00.000Z"),
			// Redelivered while its first copy waits in the same batch: skipped, not counted twice.
			record("m2", "2026-01-02T00:00:00.000Z"),
		];
		expect(await insertUsageBatch(db, first)).toBe(2);
		// A redelivery after commit is skipped too; the new record adds to its day's counter.
		expect(await insertUsageBatch(db, [record("m1", "2026-01-01T23:59:59.999Z"), record("m3", "2026-01-02T10:00:00.000Z")])).toBe(1);

		const counts = await db("activity_log.daily_counts")
			.where({ account_id: accountId })
			.select("kind", db.raw("to_char(day, 'YYYY-MM-DD') as day"), "count")
			.orderBy("day");
		expect(counts.map((c) => ({ ...c, count: Number(c.count) }))).toEqual([
			{ kind: "sign-in", day: "2026-01-01", count: 1 },
			{ kind: "sign-in", day: "2026-01-02", count: 2 },
		]);
		const stored = await db("activity_log.usage_records").where({ account_id: accountId }).orderBy("message_id");
		expect(stored.map((r) => r.message_id)).toEqual(["m1", "m2", "m3"]);
		expect(stored[0]?.detail).toEqual({ ip: 'quote " backslash \\ ü 😀' });
		expect(new Date(stored[0]?.at).toISOString()).toBe("2026-01-01T23:59:59.999Z");
	}, 60_000);

	it("R14: batched inserts sustain a multiple of one insert per event (measured)", async () => {
		const portal = await startTestPortal({ services: ["activity-log"] });
		cleanups.push(() => portal.stop());
		const db = (portal.broker.getLocalService("activityLog") as unknown as { db: Knex }).db;
		const N = 3_000;
		const records = (accountId: string): UsageRecord[] =>
			Array.from({ length: N }, () => ({
				messageId: randomUUID(),
				accountId,
				kind: "link-click",
				at: new Date(),
				detail: { linkId: "bench" },
			}));

		const single = records(randomUUID());
		let t = performance.now();
		for (const record of single) await insertUsageBatch(db, [record]);
		const singleRate = N / ((performance.now() - t) / 1000);

		const batched = records(randomUUID());
		const buffer = new BatchBuffer<UsageRecord>((batch) => insertUsageBatch(db, batch), { batchSize: 500, flushMs: 50, maxPending: 1_000 });
		t = performance.now();
		await Promise.all(batched.map((record) => buffer.add(record)));
		const batchedRate = N / ((performance.now() - t) / 1000);
		await buffer.close();

		console.log(
			`usage ingest into ${infraMode ? "Postgres" : "PGlite"}: one insert per event ${Math.round(singleRate)}/s, batched (500, bounded 1000 in memory) ${Math.round(batchedRate)}/s, ×${(batchedRate / singleRate).toFixed(1)}`,
		);
		const [stored] = await db("activity_log.usage_records")
			.whereIn("account_id", [single[0]?.accountId ?? "", batched[0]?.accountId ?? ""])
			.count({ n: "*" });
		expect(Number(stored?.n)).toBe(2 * N);
		expect(batchedRate).toBeGreaterThan(2 * singleRate);
	}, 120_000);
});
