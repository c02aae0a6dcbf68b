import type { Knex } from "@portal/platform";
import type { PrivacyRequestRow } from "./types";

const REQUESTS = "compliance.privacy_requests";

export const toRequest = (row: PrivacyRequestRow) => ({
	id: row.id,
	type: row.type,
	status: row.status,
	residencyBasis: row.residency_basis,
	receivedAt: row.received_at.toISOString(),
	dueAt: row.due_at.toISOString(),
	extendedAt: row.extended_at?.toISOString() ?? null,
	extensionReason: row.extension_reason,
	completedAt: row.completed_at?.toISOString() ?? null,
	downloadExpiresAt: row.download_expires_at?.toISOString() ?? null,
});

/** Serializes one account's requests, so that two at once cannot both pass the yearly limit. */
export async function lockAccount(trx: Knex.Transaction, accountId: string): Promise<void> {
	await trx.raw("select pg_advisory_xact_lock(hashtext(?))", [`compliance.requests:${accountId}`]);
}

/** The account's requests in the rolling window (since, until]. */
export const requestsWithin = (trx: Knex, accountId: string, since: Date, until: Date): Promise<PrivacyRequestRow[]> =>
	trx<PrivacyRequestRow>(REQUESTS)
		.where({ account_id: accountId })
		.where("received_at", ">", since)
		.where("received_at", "<=", until)
		.orderBy("received_at");

export const requestsOf = (db: Knex, accountId: string): Promise<PrivacyRequestRow[]> =>
	db<PrivacyRequestRow>(REQUESTS).where({ account_id: accountId }).orderBy("received_at", "desc");

export const requestById = (db: Knex, id: string): Promise<PrivacyRequestRow | undefined> =>
	db<PrivacyRequestRow>(REQUESTS).where({ id }).first();

/** Requests not yet completed, and those of them past their (possibly extended) deadline. */
export async function openRequestCounts(db: Knex, now: Date): Promise<{ open: number; overdue: number }> {
	const row = (await db(REQUESTS)
		.whereNot({ status: "completed" })
		.first(db.raw("count(*)::int as open"), db.raw("(count(*) filter (where due_at < ?))::int as overdue", [now]))) as
		| { open: number; overdue: number }
		| undefined;
	return { open: Number(row?.open ?? 0), overdue: Number(row?.overdue ?? 0) };
}

export const historyOf = (db: Knex, requestId: string) =>
	db("compliance.privacy_request_events").where({ request_id: requestId }).orderBy("id").select("status", "note", "at");

export async function recordStatus(
	trx: Knex.Transaction,
	request: Pick<PrivacyRequestRow, "id" | "account_id">,
	status: string,
	at: Date,
	actorId: string,
	note?: string,
): Promise<void> {
	await trx("compliance.privacy_request_events").insert({
		request_id: request.id,
		account_id: request.account_id,
		status,
		at,
		actor_id: actorId,
		note: note ?? null,
	});
}
