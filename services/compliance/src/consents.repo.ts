import { randomUUID } from "node:crypto";
import type { Knex } from "@portal/platform";
import { type Consent, type ConsentRow, type DisclosureRow, GPC_PURPOSES } from "./types";

const CONSENTS = "compliance.consents";
const DISCLOSURES = "compliance.disclosures";

export const toConsent = (row: ConsentRow): Consent => ({
	id: row.id,
	purpose: row.purpose,
	recipient: row.recipient,
	scope: row.scope,
	policyVersion: row.policy_version,
	source: row.source,
	givenAt: row.given_at.toISOString(),
	evidence: { ip: row.ip, userAgent: row.user_agent },
	withdrawnAt: row.withdrawn_at?.toISOString() ?? null,
	withdrawnSource: row.withdrawn_source,
});

export const consentsOf = (db: Knex, accountId: string): Promise<ConsentRow[]> =>
	db<ConsentRow>(CONSENTS).where({ account_id: accountId }).orderBy("given_at", "desc").orderBy("id");

export async function insertConsent(
	trx: Knex.Transaction,
	row: Omit<ConsentRow, "id" | "withdrawn_at" | "withdrawn_source" | "withdrawn_ip" | "withdrawn_user_agent">,
): Promise<ConsentRow> {
	const [inserted] = await trx<ConsentRow>(CONSENTS)
		.insert({ id: randomUUID(), ...row })
		.returning("*");
	return inserted as ConsentRow;
}

export async function withdrawConsent(
	trx: Knex.Transaction,
	where: { id?: string; accountId: string; purposes?: readonly string[]; grantedWithoutGpc?: boolean },
	evidence: { at: Date; source: string; ip: string; userAgent: string },
): Promise<ConsentRow[]> {
	const query = trx<ConsentRow>(CONSENTS).where({ account_id: where.accountId }).whereNull("withdrawn_at");
	if (where.id) query.where({ id: where.id });
	if (where.purposes) query.whereIn("purpose", [...where.purposes]);
	if (where.grantedWithoutGpc) query.where({ gpc_at_grant: false });
	return query
		.update({
			withdrawn_at: evidence.at,
			withdrawn_source: evidence.source,
			withdrawn_ip: evidence.ip,
			withdrawn_user_agent: evidence.userAgent,
		})
		.returning("*");
}

/** The active consent covering a recipient, a purpose and every section asked for, if any (R22). */
export async function coveringConsent(
	trx: Knex.Transaction,
	accountId: string,
	recipient: string,
	purpose: string,
	sections: string[],
): Promise<ConsentRow | undefined> {
	return trx<ConsentRow>(CONSENTS)
		.where({ account_id: accountId, recipient, purpose })
		.whereNull("withdrawn_at")
		.whereRaw("scope @> ?::text[]", [sections])
		.orderBy("given_at", "desc")
		.forShare()
		.first();
}

/**
 * Global Privacy Control (R24): withdraws active sale/share consents, recorded with source `gpc`.
 * A consent the user gave while their browser was sending GPC is their explicit, later choice and stays.
 */
export async function honourGpc(
	trx: Knex.Transaction,
	accountId: string,
	evidence: { at: Date; ip: string; userAgent: string },
): Promise<ConsentRow[]> {
	await trx("compliance.gpc_signals")
		.insert({ account_id: accountId, first_seen_at: evidence.at, last_seen_at: evidence.at })
		.onConflict("account_id")
		.merge({ last_seen_at: evidence.at });
	return withdrawConsent(trx, { accountId, purposes: GPC_PURPOSES, grantedWithoutGpc: true }, { ...evidence, source: "gpc" });
}

export const gpcSignalOf = (db: Knex, accountId: string): Promise<{ first_seen_at: Date; last_seen_at: Date } | undefined> =>
	db("compliance.gpc_signals").where({ account_id: accountId }).first();

export async function insertDisclosure(trx: Knex.Transaction, row: Omit<DisclosureRow, "id">): Promise<DisclosureRow> {
	const [inserted] = await trx<DisclosureRow>(DISCLOSURES)
		.insert({ id: randomUUID(), ...row })
		.returning("*");
	return inserted as DisclosureRow;
}

/** What the owner sees (R23): delayed legal-basis disclosures only once their notice date has come. */
export const visibleDisclosures = (db: Knex, accountId: string, now: Date): Promise<DisclosureRow[]> =>
	db<DisclosureRow>(DISCLOSURES)
		.where({ account_id: accountId })
		.andWhere((q) => q.whereNull("notify_after").orWhere("notify_after", "<=", now))
		.orderBy("disclosed_at", "desc");

export const toDisclosure = (row: DisclosureRow) => ({
	id: row.id,
	recipient: row.recipient,
	purpose: row.purpose,
	sections: row.sections,
	basis: row.basis,
	reference: row.reference,
	consentId: row.consent_id,
	disclosedAt: row.disclosed_at.toISOString(),
});
