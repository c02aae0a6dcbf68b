import { randomUUID } from "node:crypto";
import type { Knex } from "@portal/platform";
import type { SuppressionReason } from "./consent";

const campaigns = "communications.campaigns";
const campaignRecipients = "communications.campaign_recipients";

export interface CampaignRow {
	id: string;
	product_code: string;
	subject: string;
	message: string;
	offer_url: string;
	rate_per_second: number;
	status: "sending" | "done";
	created_by: string;
	created_at: Date;
	resolved_at: Date | null;
	next_batch_at: Date;
	finished_at: Date | null;
}

export interface NewCampaign {
	productCode: string;
	subject: string;
	message: string;
	offerUrl: string;
	ratePerSecond: number;
	createdBy: string;
}

export async function createCampaign(db: Knex, c: NewCampaign): Promise<CampaignRow> {
	const [row] = await db(campaigns)
		.insert({
			id: randomUUID(),
			product_code: c.productCode,
			subject: c.subject,
			message: c.message,
			offer_url: c.offerUrl,
			rate_per_second: c.ratePerSecond,
			created_by: c.createdBy,
		})
		.returning("*");
	return row as CampaignRow;
}

export function listCampaigns(db: Knex, limit = 100): Promise<CampaignRow[]> {
	return db<CampaignRow>(campaigns).orderBy("created_at", "desc").limit(limit);
}

export function findCampaign(db: Knex, id: string): Promise<CampaignRow | undefined> {
	return db<CampaignRow>(campaigns).where({ id }).first();
}

/**
 * Whether any campaign's batch is due, without a transaction or a lock: the pass runs four times a
 * second on every replica and nearly always finds nothing (then a transaction was three round trips).
 */
export async function anyCampaignDue(db: Knex): Promise<boolean> {
	const { rows } = await db.raw<{ rows: { due: boolean }[] }>(
		`select exists (select from ${campaigns} where status = 'sending' and next_batch_at <= now()) as due`,
	);
	return rows[0]?.due === true;
}

/**
 * Takes the one campaign whose next batch is due, locked for this transaction: replicas skip it, so
 * the rate holds across replicas, and the lock dies with a crashed replica's connection.
 */
export async function claimDueCampaign(trx: Knex.Transaction): Promise<CampaignRow | undefined> {
	return trx<CampaignRow>(campaigns)
		.where({ status: "sending" })
		.andWhere("next_batch_at", "<=", trx.fn.now())
		.orderBy("next_batch_at")
		.forUpdate()
		.skipLocked()
		.first();
}

/** Resolves the holders of the product once, when sending starts (not when the campaign was written). */
export async function resolveHolders(trx: Knex.Transaction, campaign: CampaignRow): Promise<void> {
	await trx.raw(
		`insert into ${campaignRecipients} (campaign_id, account_id)
		 select ?, account_id from communications.recipient_products where product_code = ?
		 on conflict do nothing`,
		[campaign.id, campaign.product_code],
	);
	await trx(campaigns).where({ id: campaign.id }).update({ resolved_at: new Date() });
}

export function pendingRecipients(trx: Knex.Transaction, campaignId: string, limit: number): Promise<{ account_id: string }[]> {
	return trx(campaignRecipients)
		.where({ campaign_id: campaignId, outcome: "pending" })
		.orderBy("account_id")
		.limit(limit)
		.forUpdate()
		.skipLocked()
		.select("account_id");
}

export async function decide(
	trx: Knex.Transaction,
	campaignId: string,
	accountId: string,
	outcome: { queued: string } | { suppressed: SuppressionReason },
): Promise<void> {
	await trx(campaignRecipients)
		.where({ campaign_id: campaignId, account_id: accountId })
		.update(
			"queued" in outcome
				? { outcome: "queued", idempotency_key: outcome.queued, decided_at: new Date() }
				: { outcome: "suppressed", reason: outcome.suppressed, decided_at: new Date() },
		);
}

export async function scheduleNext(trx: Knex.Transaction, campaignId: string, finished: boolean, nextAt: Date): Promise<void> {
	await trx(campaigns)
		.where({ id: campaignId })
		.update(finished ? { status: "done", finished_at: new Date() } : { next_batch_at: nextAt });
}

export interface CampaignReport {
	recipients: number;
	pending: number;
	queued: number;
	sent: number;
	/** Refused by the receiving server (5xx) at delivery. */
	bounced: number;
	failed: number;
	/** Not sent, by reason, decided at send time. */
	suppressed: Partial<Record<SuppressionReason, number>>;
}

/** Counts by outcome; `sent` and delivery failures come from the mails themselves. */
export async function reportFor(db: Knex, campaignId: string): Promise<CampaignReport> {
	const rows: { outcome: string; reason: string | null; status: string | null; n: string | number }[] = await db(
		`${campaignRecipients} as r`,
	)
		.leftJoin("communications.mails as m", "m.idempotency_key", "r.idempotency_key")
		.where("r.campaign_id", campaignId)
		.groupBy("r.outcome", "r.reason", "m.status")
		.select("r.outcome", "r.reason", "m.status", db.raw("count(*) as n"));
	const report: CampaignReport = { recipients: 0, pending: 0, queued: 0, sent: 0, bounced: 0, failed: 0, suppressed: {} };
	for (const row of rows) {
		const n = Number(row.n);
		report.recipients += n;
		if (row.outcome === "pending") report.pending += n;
		else if (row.outcome === "suppressed") {
			const reason = row.reason as SuppressionReason;
			report.suppressed[reason] = (report.suppressed[reason] ?? 0) + n;
		} else if (row.status === "sent") report.sent += n;
		else if (row.status === "bounced") report.bounced += n;
		else if (row.status === "failed") report.failed += n;
		else report.queued += n;
	}
	return report;
}

export function campaignHistoryOf(db: Knex, accountId: string) {
	return db(`${campaignRecipients} as r`)
		.join(`${campaigns} as c`, "c.id", "r.campaign_id")
		.where("r.account_id", accountId)
		.select("r.campaign_id", "c.subject", "c.product_code", "r.outcome", "r.reason", "r.decided_at");
}
