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

/** Communications' own copy of an account's address and products, kept from identity's channels. */
export async function upsertRecipient(
	db: Knex,
	r: Omit<RecipientRow, "given_name" | "country" | "region"> & Partial<RecipientRow>,
	product?: { code: string; name: string },
): Promise<void> {
	const facts = { email: r.email, username: r.username, updated_at: new Date() };
	const optional = Object.fromEntries(
		Object.entries({ given_name: r.given_name, country: r.country?.toUpperCase(), region: r.region }).filter(([, v]) => v != null),
	);
	const upsert = db(recipients)
		.insert({ account_id: r.account_id, ...facts, ...optional })
		.onConflict("account_id")
		.merge({ ...facts, ...optional });
	if (!product) {
		await upsert;
		return;
	}
	// With its product in the same statement: one round trip per purchase fact, not two.
	const { sql, bindings } = upsert.returning("account_id").toSQL();
	await db.raw(
		`with recipient as (${sql})
		insert into ${products} (account_id, product_code, product_name) select account_id, ?, ? from recipient
		on conflict (account_id, product_code) do nothing`,
		[...bindings, product.code, product.name],
	);
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

/**
 * Writes the preference and its history row together, in one statement (it runs for every new
 * account); `onlyIfMissing` sets a default without overriding a choice. False when nothing was written.
 */
export async function savePreference(
	trx: Knex.Transaction,
	accountId: string,
	change: PreferenceChange,
	onlyIfMissing = false,
): Promise<boolean> {
	const onConflict = onlyIfMissing
		? "do nothing"
		: `do update set marketing_email = excluded.marketing_email, topics = excluded.topics, locale = excluded.locale,
			source = excluded.source, updated_at = excluded.updated_at`;
	const topics = JSON.stringify(change.topics);
	const { rows } = await trx.raw<{ rows: unknown[] }>(
		`with written as (
			insert into ${preferences} (account_id, marketing_email, topics, locale, source, updated_at)
			values (?, ?, ?, ?, ?, ?)
			on conflict (account_id) ${onConflict}
			returning account_id)
		insert into ${changes} (id, account_id, source, marketing_email, topics, locale, evidence)
		select ?, account_id, ?, ?, ?, ?, ? from written
		returning id`,
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
	return rows.length === 1;
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
