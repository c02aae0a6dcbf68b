import { randomUUID } from "node:crypto";
import type { Knex } from "@portal/platform";
import type { PurgeOutcome } from "./types";

/** The advisory lock key of the purge, the same in every replica ("activity_log.purge" as a number). */
export const PURGE_LOCK_KEY = 0x61637470;

const notHeld = (alias: string) =>
	`not exists (select 1 from activity_log.legal_holds h where h.account_id = ${alias}.account_id and h.lifted_at is null)`;

/**
 * Deletes usage data older than the cutoff in batches (R15), skipping accounts under a legal hold.
 * One replica at a time: a session-level `pg_try_advisory_lock` on a connection held for the run;
 * a replica that does not get it skips this round. Each batch is its own short statement, so the
 * tables stay writable while a large backlog is purged. Audit entries are not touched (R17).
 */
export async function purgeExpired(
	db: Knex,
	opts: { now: Date; retentionDays: number; batchSize: number; nodeId: string },
): Promise<PurgeOutcome> {
	const cutoff = new Date(opts.now.getTime() - opts.retentionDays * 86_400_000);
	const connection = await db.client.acquireConnection();
	const on = <T>(query: Knex.Raw<T>) => query.connection(connection);
	try {
		const locked = await on(db.raw("select pg_try_advisory_lock(?) as locked", [PURGE_LOCK_KEY]));
		if (!locked.rows[0]?.locked) return { ran: false, reason: "another replica is purging" };
		try {
			const startedAt = new Date();
			const deleteInBatches = async (sql: string, bindings: Knex.Value[]): Promise<number> => {
				let total = 0;
				for (;;) {
					const result = await on(db.raw(sql, [...bindings, opts.batchSize]));
					total += result.rowCount ?? 0;
					if ((result.rowCount ?? 0) < opts.batchSize) return total;
				}
			};
			const usageDeleted = await deleteInBatches(
				`delete from activity_log.usage_records where id in (
					select id from activity_log.usage_records u where u.at < ? and ${notHeld("u")} limit ?)`,
				[cutoff],
			);
			const countersDeleted = await deleteInBatches(
				`delete from activity_log.daily_counts where ctid in (
					select ctid from activity_log.daily_counts c where c.day < ?::date and ${notHeld("c")} limit ?)`,
				[cutoff.toISOString().slice(0, 10)],
			);
			const linksDeleted = await deleteInBatches(
				`delete from activity_log.links where code in (
					select code from activity_log.links l where l.created_at < ? and ${notHeld("l")} limit ?)`,
				[cutoff],
			);
			const held = await on(db.raw("select count(*)::int as n from activity_log.legal_holds where lifted_at is null"));
			const outcome = {
				ran: true,
				cutoff: cutoff.toISOString(),
				usageDeleted,
				countersDeleted,
				linksDeleted,
				heldAccounts: Number(held.rows[0]?.n ?? 0),
			};
			await on(
				db.raw(
					`insert into activity_log.purge_runs
						(id, node_id, cutoff, started_at, finished_at, usage_deleted, counters_deleted, links_deleted, held_accounts)
					values (?, ?, ?, ?, now(), ?, ?, ?, ?)`,
					[randomUUID(), opts.nodeId, cutoff, startedAt, usageDeleted, countersDeleted, linksDeleted, outcome.heldAccounts],
				),
			);
			return outcome;
		} finally {
			await on(db.raw("select pg_advisory_unlock(?)", [PURGE_LOCK_KEY]));
		}
	} finally {
		await db.client.releaseConnection(connection);
	}
}
