import type { UsageKind } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import type { ActivitySummary, CountPair, UsageRecord, UsageRow } from "./types";

const RECORDS = "activity_log.usage_records";
const COUNTS = "activity_log.daily_counts";

const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

/**
 * Writes a batch in one statement, so it commits or fails whole: the records (a message seen before
 * is skipped by its unique `message_id`) and, for the records that were new, the daily counters.
 * The batch travels as one JSON parameter (no per-row bindings to build, and it works on PGlite as on
 * Postgres); counters are summed per UTC day in SQL and upserted in key order, so that two replicas
 * flushing at once cannot deadlock.
 */
const INSERT_BATCH = `
	with inserted as (
		insert into ${RECORDS} (message_id, account_id, kind, at, detail)
		select "messageId", "accountId", kind, at, detail
		from json_to_recordset(?::json) as r("messageId" text, "accountId" uuid, kind text, at timestamptz, detail jsonb)
		on conflict (message_id) do nothing
		returning account_id, kind, at
	), counted as (
		insert into ${COUNTS} as c (account_id, kind, day, count)
		select account_id, kind, (at at time zone 'UTC')::date, count(*) from inserted
		group by 1, 2, 3
		order by 1, 2, 3
		on conflict (account_id, kind, day) do update set count = c.count + excluded.count
	)
	select count(*)::int as inserted from inserted`;

/** Returns how many records were new. */
export async function insertUsageBatch(db: Knex, batch: readonly UsageRecord[]): Promise<number> {
	if (batch.length === 0) return 0;
	const result: { rows: { inserted: number }[] } = await db.raw(INSERT_BATCH, [JSON.stringify(batch)]);
	return result.rows[0]?.inserted ?? 0;
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
