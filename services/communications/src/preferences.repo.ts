import { randomUUID } from "node:crypto";
import type { Knex } from "@portal/platform";
import type { MarketingFacts } from "./consent";

const recipients = "communications.recipients";
const products = "communications.recipient_products";
const preferences = "communications.preferences";
const changes = "communications.preference_changes";

export interface RecipientRow {
	account_id: string;
	email: string;
	username: string;
	given_name: string | null;
	country: string | null;
	region: string | null;
}

export interface PreferenceRow {
	account_id: string;
	marketing_email: boolean;
	topics: Record<string, boolean>;
	locale: string | null;
	source: string;
	updated_at: Date;
}

/** Where a preference change came from (R18: each change recorded with time and source). */
export type PreferenceSource = "jurisdiction-default" | "default" | "account" | "unsubscribe-link";

/** What a purchase fact tells about a recipient; fields left out (or null) keep what is known. */
export type RecipientFacts = Pick<RecipientRow, "account_id" | "email" | "username"> & Partial<RecipientRow>;

/**
 * Communications' own copy of accounts' addresses and products, kept from identity's channels: a
 * group of facts in two statements. Facts about one account are merged, later ones winning.
 */
export async function upsertRecipients(
	db: Knex,
	facts: readonly RecipientFacts[],
	owned: readonly { account_id: string; code: string; name: string }[],
): Promise<void> {
	const byAccount = new Map<string, Record<string, unknown>>();
	const updatedAt = new Date();
	for (const r of facts) {
		const known = Object.entries({ ...r, country: r.country?.toUpperCase() }).filter(([, v]) => v != null);
		byAccount.set(r.account_id, { ...byAccount.get(r.account_id), ...Object.fromEntries(known), updated_at: updatedAt });
	}
	if (byAccount.size > 0) {
		const keep = (column: string) => db.raw("coalesce(excluded.??, ??.??)", [column, recipients, column]);
		await db(recipients)
			.insert([...byAccount.values()])
			.onConflict("account_id")
			.merge({
				email: db.raw("excluded.email"),
				username: db.raw("excluded.username"),
				updated_at: db.raw("excluded.updated_at"),
				given_name: keep("given_name"),
				country: keep("country"),
				region: keep("region"),
			});
	}
	if (owned.length > 0) {
		await db(products)
			.insert(owned.map((p) => ({ account_id: p.account_id, product_code: p.code, product_name: p.name })))
			.onConflict(["account_id", "product_code"])
			.ignore();
	}
}

/** R10: the owner confirmed a new address; later mail (campaigns included) goes there. False when unknown here. */
export async function changeRecipientEmail(db: Knex, accountId: string, email: string): Promise<boolean> {
	const updated = await db(recipients).where({ account_id: accountId }).update({ email: email.trim(), updated_at: new Date() });
	return Number(updated) > 0;
}

export function findRecipient(db: Knex, accountId: string): Promise<RecipientRow | undefined> {
	return db<RecipientRow>(recipients).where({ account_id: accountId }).first();
}

export function productsOf(db: Knex, accountId: string): Promise<{ product_code: string; product_name: string; since: Date }[]> {
	return db(products).where({ account_id: accountId }).select("product_code", "product_name", "since").orderBy("since");
}

export function findPreference(db: Knex, accountId: string): Promise<PreferenceRow | undefined> {
	return db<PreferenceRow>(preferences).where({ account_id: accountId }).first();
}

export interface PreferenceChange {
	marketingEmail: boolean;
	topics: Record<string, boolean>;
	locale: string | null;
	source: PreferenceSource;
	evidence?: Record<string, unknown>;
}

/** Writes the owner's preference and its history row together, in one statement. */
export async function savePreference(trx: Knex.Transaction, accountId: string, change: PreferenceChange): Promise<void> {
	const topics = JSON.stringify(change.topics);
	await trx.raw(
		`with written as (
			insert into ${preferences} (account_id, marketing_email, topics, locale, source, updated_at)
			values (?, ?, ?, ?, ?, ?)
			on conflict (account_id) do update set marketing_email = excluded.marketing_email, topics = excluded.topics,
				locale = excluded.locale, source = excluded.source, updated_at = excluded.updated_at
			returning account_id)
		insert into ${changes} (id, account_id, source, marketing_email, topics, locale, evidence)
		select ?, account_id, ?, ?, ?, ?, ? from written`,
		[
			accountId,
			change.marketingEmail,
			topics,
			change.locale,
			change.source,
			new Date(),
			randomUUID(),
			change.source,
			change.marketingEmail,
			topics,
			change.locale,
			JSON.stringify(change.evidence ?? {}),
		],
	);
}

/**
 * R18: new accounts' starting preferences, each recorded with its evidence, in one statement; an
 * account that already has a preference keeps it (a later choice is never overwritten).
 */
export async function startingPreferences(
	trx: Knex.Transaction,
	starts: readonly { accountId: string; marketingEmail: boolean; source: PreferenceSource; evidence: Record<string, unknown> }[],
): Promise<void> {
	const input = [...new Map(starts.map((s) => [s.accountId, s])).values()].map((s) => ({
		account_id: s.accountId,
		marketing_email: s.marketingEmail,
		source: s.source,
		evidence: s.evidence,
		change_id: randomUUID(),
	}));
	if (input.length === 0) return;
	await trx.raw(
		`with input as (
			select * from jsonb_to_recordset(?::jsonb) as i (account_id uuid, marketing_email boolean, source text, evidence jsonb, change_id uuid)),
		written as (
			insert into ${preferences} (account_id, marketing_email, topics, locale, source)
			select account_id, marketing_email, '{}', null, source from input
			on conflict (account_id) do nothing
			returning account_id)
		insert into ${changes} (id, account_id, source, marketing_email, topics, locale, evidence)
		select i.change_id, i.account_id, i.source, i.marketing_email, '{}', null, i.evidence from written join input i using (account_id)`,
		[JSON.stringify(input)],
	);
}

/** The language each account chose for its mail (null: the default). */
export async function localesOf(db: Knex, accountIds: readonly string[]): Promise<Map<string, string | null>> {
	const rows: { account_id: string; locale: string | null }[] = await db(preferences)
		.whereIn("account_id", [...new Set(accountIds)])
		.select("account_id", "locale");
	return new Map(rows.map((r) => [r.account_id, r.locale]));
}

export function preferenceHistory(db: Knex, accountId: string) {
	return db(changes)
		.where({ account_id: accountId })
		.select("at", "source", "marketing_email", "topics", "locale", "evidence")
		.orderBy("at");
}

/** Everything the marketing rule needs about one account, read at send time. */
export async function marketingFacts(
	db: Knex,
	accountId: string,
): Promise<MarketingFacts & { recipient?: RecipientRow; locale: string | null }> {
	const recipient = await findRecipient(db, accountId);
	const preference = await findPreference(db, accountId);
	const bounced = recipient
		? Boolean(
				await db("communications.mails")
					.whereRaw("lower(to_address) = lower(?)", [recipient.email])
					.andWhere({ status: "bounced" })
					.first("id"),
			)
		: false;
	return { known: Boolean(recipient), recipient, preference: preference ?? null, bounced, locale: preference?.locale ?? null };
}
