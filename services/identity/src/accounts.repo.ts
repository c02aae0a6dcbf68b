import { randomUUID } from "node:crypto";
import type { PurchaseEvent } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import type { AccountRow, Me } from "./types";
import { usernameCandidates } from "./usernames";

const accounts = "identity.accounts";
const products = "identity.account_products";
const tokens = "identity.tokens";
const outbox = "identity.outbox";

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

interface ProductRow {
	product_code: string;
	product_name: string;
	/** A Date from a column, an ISO string from JSON. */
	since: Date | string;
}

const byLogin = (db: Knex, login: string) => {
	const key = login.trim().toLowerCase();
	return db<AccountRow>(accounts).where("username", key).orWhere("email_normalized", key);
};

export const findByLogin = (db: Knex, login: string): Promise<AccountRow | undefined> => byLogin(db, login).first();

/** The account a login names with its products, in one round trip: a sign-in answers with both. */
export async function findByLoginWithProducts(
	db: Knex,
	login: string,
): Promise<{ account: AccountRow; products: ProductRow[] } | undefined> {
	const found: (AccountRow & { products: ProductRow[] }) | undefined = await byLogin(db, login).first(
		`${accounts}.*`,
		db.raw(
			`coalesce((select json_agg(json_build_object('product_code', p.product_code, 'product_name', p.product_name, 'since', p.since) order by p.since)
			from ${products} p where p.account_id = ${accounts}.id), '[]') as products`,
		),
	);
	if (!found) return undefined;
	const { products: owned, ...account } = found;
	return { account, products: owned };
}

export const findById = (db: Knex, id: string): Promise<AccountRow | undefined> => db<AccountRow>(accounts).where({ id }).first();

export type LoginEmailChange =
	| { changed: true; previous: AccountRow }
	| { changed: false; reason: "unknown-account" | "unchanged" | "in-use" };

/**
 * R10: a confirmed address becomes the sign-in email, unless another account signs in with it (one
 * account per address, R2). A race with another account is caught by the unique index.
 */
export async function changeLoginEmail(trx: Knex.Transaction, accountId: string, email: string): Promise<LoginEmailChange> {
	const account = await trx<AccountRow>(accounts).where({ id: accountId }).forUpdate().first();
	if (!account) return { changed: false, reason: "unknown-account" };
	const emailNormalized = normalizeEmail(email);
	if (account.email_normalized === emailNormalized) return { changed: false, reason: "unchanged" };
	const holder = await trx(accounts).where({ email_normalized: emailNormalized }).whereNot({ id: accountId }).first("id");
	if (holder) return { changed: false, reason: "in-use" };
	await trx(accounts).where({ id: accountId }).update({ email: email.trim(), email_normalized: emailNormalized });
	return { changed: true, previous: account };
}

export interface RecordedPurchase {
	account: AccountRow;
	/** The account was created by this purchase (pending, with a new user name). */
	created: boolean;
	/** False when the event was seen before: nothing was recorded. */
	fresh: boolean;
	/** False when the account already had the product. */
	productIsNew: boolean;
}

/** An outbox row for a purchase's fact, less the account's id, user name and email (the statement adds them). */
export interface PurchaseFactRow {
	id: string;
	channel: string;
	payload: object;
}

/** A purchase as it is recorded: the event, where it came from, the activation token a new account gets, and the fact for each outcome. */
export interface PurchaseToRecord {
	event: PurchaseEvent;
	source: "channel" | "webhook";
	activation: { tokenHash: string; expiresAt: Date };
	facts: { accountCreated: PurchaseFactRow; productAdded: PurchaseFactRow };
	/** The user name a new account gets: the email's first candidate unless given. */
	username?: string;
}

/**
 * R1/R2, the account side of purchases, in one statement that commits on its own: finds each
 * purchase's account by email (without case) or creates a pending one with its user name and
 * activation token (the hash), records the event once per `eventId`, adds the product and writes the
 * fact for communications. Purchases of one email are taken in order: the first creates the account,
 * the others add to it; an event seen before (or earlier in the group) changes nothing. A purchase
 * the statement cannot decide gets `undefined`: its user name is taken, or another transaction is
 * creating its account (the unique indexes detect both; the next statement sees the account).
 */
export async function recordPurchaseGroup(db: Knex, purchases: readonly PurchaseToRecord[]): Promise<(RecordedPurchase | undefined)[]> {
	const input = purchases.map((purchase, ord) => {
		const { event, source, activation, facts } = purchase;
		const emailNormalized = normalizeEmail(event.customer.email);
		return {
			ord,
			event_id: event.eventId,
			order_id: event.orderId,
			email: event.customer.email.trim(),
			email_normalized: emailNormalized,
			username: purchase.username ?? usernameCandidates(emailNormalized).next().value,
			account_id: randomUUID(),
			token_id: randomUUID(),
			token_hash: activation.tokenHash,
			expires_at: activation.expiresAt,
			product_code: event.product.code.toUpperCase(),
			product_name: event.product.name,
			occurred_at: event.occurredAt,
			source,
			fact_created: facts.accountCreated,
			fact_added: facts.productAdded,
		};
	});
	const { rows } = await db
		.raw<{
			rows: (AccountRow & { ord: number; is_new: boolean; created: boolean; fresh: boolean; product_is_new: boolean })[];
		}>(
			`with input as (
			select * from jsonb_to_recordset(?::jsonb) as i (ord int, event_id text, order_id text, email text, email_normalized text,
				username text, account_id uuid, token_id uuid, token_hash text, expires_at timestamptz, product_code text, product_name text,
				occurred_at timestamptz, source text, fact_created jsonb, fact_added jsonb)),
		seen as (select event_id, account_id from identity.purchase_events where event_id in (select event_id from input)),
		existing as (select * from ${accounts} where email_normalized in (select email_normalized from input) order by id for update),
		creating as (
			select distinct on (email_normalized) * from input i
			where not exists (select from existing e where e.email_normalized = i.email_normalized)
				and not exists (select from seen s where s.event_id = i.event_id)
			order by email_normalized, ord),
		inserted as (
			insert into ${accounts} (id, username, email, email_normalized, status)
			select account_id, username, email, email_normalized, 'pending' from creating
			on conflict do nothing
			returning *),
		activation as (
			insert into ${tokens} (id, account_id, purpose, token_hash, expires_at)
			select c.token_id, c.account_id, 'activation', c.token_hash, c.expires_at from creating c join inserted using (email_normalized)),
		account as (select *, false as is_new from existing union all select *, true as is_new from inserted),
		first_of_event as (select distinct on (event_id) * from input order by event_id, ord),
		fresh as (
			insert into identity.purchase_events (event_id, account_id, order_id, product_code, occurred_at, source)
			select f.event_id, a.id, f.order_id, f.product_code, f.occurred_at, f.source from first_of_event f join account a using (email_normalized)
			on conflict (event_id) do nothing
			returning event_id),
		first_of_product as (
			select distinct on (email_normalized, product_code) * from first_of_event join fresh using (event_id)
			order by email_normalized, product_code, ord),
		product as (
			insert into ${products} (account_id, product_code, product_name, order_id, since)
			select a.id, p.product_code, p.product_name, p.order_id, p.occurred_at from first_of_product p join account a using (email_normalized)
			on conflict (account_id, product_code) do nothing
			returning account_id, product_code),
		decided as (
			select i.ord, i.fact_created, i.fact_added, a.id, a.username, a.email, a.is_new and a.id = i.account_id as created,
				exists (select from first_of_event f join fresh using (event_id) where f.ord = i.ord) as fresh,
				exists (select from first_of_product p join product using (product_code) where p.ord = i.ord and product.account_id = a.id) as product_is_new
			from input i join account a using (email_normalized)),
		fact as (
			insert into ${outbox} (id, channel, payload)
			select (f->>'id')::uuid, f->>'channel', (f->'payload') || jsonb_build_object('accountId', id, 'username', username, 'email', email)
			from (select case when created then fact_created else fact_added end as f, id, username, email from decided
				where fresh and (created or product_is_new)) reported)
		select d.ord, d.created, d.fresh, d.product_is_new, a.* from decided d join account a using (id)
		union all
		-- An event seen before under another email (a producer reusing an id): a duplicate of its first purchase.
		select i.ord, false, false, false, a.*, false from input i join seen s using (event_id) join ${accounts} a on a.id = s.account_id
		where not exists (select from decided d where d.ord = i.ord)`,
			[JSON.stringify(input)],
		)
		// A named statement, planned once per connection: planning was ~0.9 of its ~3 ms for a group of nine.
		.options({ name: "identity_record_purchases" });
	const decided: (RecordedPurchase | undefined)[] = purchases.map(() => undefined);
	for (const { ord, is_new: _, created, fresh, product_is_new, ...account } of rows) {
		decided[ord] = { account, created, fresh, productIsNew: product_is_new };
	}
	return decided;
}

/**
 * Removes an account a purchase created although its event was recorded elsewhere at the same time
 * (an event id reused for another email, both in flight): with no event, product or fact of its own,
 * only its activation token goes with it.
 */
export async function dropRacedAccount(db: Knex, accountId: string): Promise<void> {
	await db(accounts)
		.where({ id: accountId, status: "pending" })
		.whereNotExists(db("identity.purchase_events").where("account_id", accountId))
		.delete();
}

export async function describe(db: Knex, account: AccountRow): Promise<Me> {
	return describeWith(account, await db(products).where({ account_id: account.id }).orderBy("since"));
}

/** What `GET /api/v1/me` shows of an account, its products already read. */
export function describeWith(account: AccountRow, rows: ProductRow[]): Me {
	return {
		id: account.id,
		username: account.username,
		email: account.email,
		status: account.status,
		products: rows.map((r) => ({ code: r.product_code, name: r.product_name, since: new Date(r.since).toISOString() })),
		roles: account.roles,
		mfa: account.totp_secret !== null,
	};
}
