import { Channels, type MailRequestedMessage } from "@portal/contracts";
import type { Knex } from "@portal/platform";

export type Enqueue = (trx: Knex.Transaction, channel: string, message: Record<string, unknown>) => Promise<string>;

export interface PolicyVersionRow {
	version: string;
	body: string;
	summary: string;
	effective_at: Date;
	published_at: Date;
	published_by: string | null;
	notice_status: "publishing" | "done";
	notice_cursor: string | null;
	notices_sent: number;
}

const VERSIONS = "compliance.policy_versions";
const NOTICES = "compliance.policy_notices";

/** The version in force: the newest whose effective date has come. */
export const policyInForce = (db: Knex, now: Date): Promise<PolicyVersionRow | undefined> =>
	db<PolicyVersionRow>(VERSIONS).where("effective_at", "<=", now).orderBy("effective_at", "desc").orderBy("published_at", "desc").first();

export const toPolicy = (row: PolicyVersionRow) => ({
	version: row.version,
	summary: row.summary,
	body: row.body,
	effectiveAt: row.effective_at.toISOString(),
	publishedAt: row.published_at.toISOString(),
});

export const publishingVersions = (db: Knex): Promise<{ version: string }[]> =>
	db(VERSIONS).select("version").where({ notice_status: "publishing" }).orderBy("published_at");

/**
 * One batch of a publication's notices (R27): posts a notice to the next `batchSize` accounts, asks
 * for their service mail through the outbox and moves the cursor, all in one transaction. The state
 * lives in the version row, so a crashed job resumes where its last committed batch ended, and the
 * row lock lets only one replica work on a version at a time.
 */
export async function noticeBatch(
	db: Knex,
	enqueue: Enqueue,
	opts: { version: string; batchSize: number; now: Date; preferencesUrl: string; noticesUrl: string },
): Promise<"more" | "done" | "busy"> {
	return db.transaction(async (trx) => {
		const row = await trx<PolicyVersionRow>(VERSIONS)
			.where({ version: opts.version, notice_status: "publishing" })
			.forUpdate()
			.skipLocked()
			.first();
		if (!row) return "busy";
		const accounts: { account_id: string; email: string }[] = await trx("compliance.accounts")
			.select("account_id", "email")
			.modify((q) => {
				if (row.notice_cursor) q.where("account_id", ">", row.notice_cursor);
			})
			.orderBy("account_id")
			.limit(opts.batchSize);
		if (accounts.length === 0) {
			await trx(VERSIONS).where({ version: row.version }).update({ notice_status: "done" });
			return "done";
		}
		const inserted: { account_id: string }[] = await trx(NOTICES)
			.insert(accounts.map((a) => ({ version: row.version, account_id: a.account_id, delivered_at: opts.now, mailed_at: opts.now })))
			.onConflict(["account_id", "version"])
			.ignore()
			.returning("account_id");
		const fresh = new Set(inserted.map((r) => r.account_id));
		for (const account of accounts) {
			if (!fresh.has(account.account_id)) continue;
			const mail: Omit<MailRequestedMessage, "messageId" | "occurredAt"> = {
				idempotencyKey: `policy-notice:${row.version}:${account.account_id}`,
				accountId: account.account_id,
				to: account.email,
				template: "policy-notice",
				data: {
					version: row.version,
					summary: row.summary,
					effectiveAt: row.effective_at.toUTCString(),
					noticesUrl: opts.noticesUrl,
					preferencesUrl: opts.preferencesUrl,
				},
			};
			await enqueue(trx, Channels.mailRequested, { ...mail });
		}
		await trx(VERSIONS)
			.where({ version: row.version })
			.update({ notice_cursor: accounts[accounts.length - 1]?.account_id, notices_sent: row.notices_sent + fresh.size });
		return "more";
	});
}

export const noticesOf = (db: Knex, accountId: string) =>
	db(`${NOTICES} as n`)
		.join(`${VERSIONS} as v`, "v.version", "n.version")
		.where("n.account_id", accountId)
		.select("n.version", "v.summary", "v.effective_at", "n.delivered_at", "n.mailed_at", "n.acknowledged_at")
		.orderBy("n.delivered_at", "desc");

export async function acknowledge(db: Knex, accountId: string, version: string, at: Date): Promise<boolean> {
	const updated = await db(NOTICES).where({ account_id: accountId, version }).whereNull("acknowledged_at").update({ acknowledged_at: at });
	if (updated > 0) return true;
	return (await db(NOTICES).where({ account_id: accountId, version }).first()) !== undefined;
}
