import type { UsageKind } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import type { ActivitySummary, CountPair, UsageRecord, UsageRow } from "./types";

const RECORDS = "activity_log.usage_records";
const COUNTS = "activity_log.daily_counts";

const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

/**
 * Writes a batch in one transaction: the records (a message seen before is skipped by its unique
 * `message_id`) and, for the records that were new, the daily counters. Counter keys are upserted
 * in sorted order so that two replicas flushing at once cannot deadlock.
 */
export async function insertUsageBatch(db: Knex, batch: readonly UsageRecord[]): Promise<number> {
	if (batch.length === 0) return 0;
	return db.transaction(async (trx) => {
		const inserted: { account_id: string; kind: UsageKind; at: Date }[] = await trx(RECORDS)
			.insert(
				batch.map((r) => ({ message_id: r.messageId, account_id: r.accountId, kind: r.kind, at: r.at, detail: JSON.stringify(r.detail) })),
			)
			.onConflict("message_id")
			.ignore()
			.returning(["account_id", "kind", "at"]);
		const counts = new Map<string, { account_id: string; kind: UsageKind; day: string; count: number }>();
		for (const row of inserted) {
			const day = utcDay(new Date(row.at));
			const key = `${row.account_id}|${row.kind}|${day}`;
			const entry = counts.get(key) ?? { account_id: row.account_id, kind: row.kind, day, count: 0 };
			entry.count += 1;
			counts.set(key, entry);
		}
		const rows = [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
		if (rows.length > 0) {
			await trx(COUNTS)
				.insert(rows)
				.onConflict(["account_id", "kind", "day"])
				.merge({ count: trx.raw("activity_log.daily_counts.count + excluded.count") });
		}
		return inserted.length;
	});
}

/** The owner's counts from the daily counters (at most retention-days rows per kind), never a scan of records. */
export async function summarize(db: Knex, accountId: string, now: Date, retentionDays: number): Promise<ActivitySummary> {
	const since = new Date(now.getTime() - 29 * 86_400_000);
	const sinceDay = utcDay(since);
	const rows: { kind: UsageKind; day: string | Date; count: string | number }[] = await db(COUNTS)
		.where({ account_id: accountId })
		.select("kind", db.raw("to_char(day, 'YYYY-MM-DD') as day"), "count");
	const pair = (): CountPair => ({ total: 0, last30Days: 0 });
	const byKind: Record<UsageKind, CountPair> = { "sign-in": pair(), "sign-in-failed": pair(), "link-click": pair() };
	const daily = new Map<string, ActivitySummary["daily"][number]>();
	for (let i = 0; i < 30; i++) {
		const day = utcDay(new Date(since.getTime() + i * 86_400_000));
		daily.set(day, { day, signIns: 0, failedSignIns: 0, linkClicks: 0 });
	}
	for (const row of rows) {
		const count = Number(row.count);
		const day = String(row.day);
		byKind[row.kind].total += count;
		if (day >= sinceDay) byKind[row.kind].last30Days += count;
		const slot = daily.get(day);
		if (slot && row.kind === "sign-in") slot.signIns += count;
		if (slot && row.kind === "sign-in-failed") slot.failedSignIns += count;
		if (slot && row.kind === "link-click") slot.linkClicks += count;
	}
	const recent: UsageRow[] = await db(RECORDS)
		.where({ account_id: accountId })
		.orderBy([
			{ column: "at", order: "desc" },
			{ column: "id", order: "desc" },
		])
		.limit(20);
	return {
		signIns: byKind["sign-in"],
		failedSignIns: byKind["sign-in-failed"],
		linkClicks: byKind["link-click"],
		retentionDays,
		recent: recent.map((r) => ({ kind: r.kind, at: new Date(r.at).toISOString(), detail: r.detail })),
		daily: [...daily.values()],
	};
}
