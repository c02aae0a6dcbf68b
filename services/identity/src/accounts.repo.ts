import { randomUUID } from "node:crypto";
import type { PurchaseEvent } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import type { AccountRow, Me } from "./types";
import { usernameCandidates } from "./usernames";

const accounts = "identity.accounts";
const products = "identity.account_products";
const tokens = "identity.tokens";

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
	/** False when the event was seen before: nothing was recorded, and the caller rolls back. */
	fresh: boolean;
	/** False when the account already had the product. */
	productIsNew: boolean;
}

/**
 * R1/R2, the account side of a purchase in one statement per user name tried (it is on the hot path:
 * one round trip instead of five): finds the account by email (without case) or creates a pending one
 * with a unique user name and the given activation token (its hash), records the event for it once
 * per `eventId` and adds the product. Safe under concurrency: a racing insert of the same email is
 * detected by the unique index and re-read.
 */
export async function recordPurchaseEvent(
	trx: Knex.Transaction,
	event: PurchaseEvent,
	source: "channel" | "webhook",
	activation: { tokenHash: string; expiresAt: Date },
): Promise<RecordedPurchase> {
	const email = event.customer.email;
	const emailNormalized = normalizeEmail(email);
	const code = event.product.code.toUpperCase();
	for (const username of usernameCandidates(emailNormalized)) {
		const { rows } = await trx.raw<{ rows: (AccountRow & { created: boolean; fresh: boolean; product_is_new: boolean })[] }>(
			`with existing as (select * from ${accounts} where email_normalized = ? for update),
			inserted as (
				insert into ${accounts} (id, username, email, email_normalized, status)
				select ?, ?, ?, ?, 'pending' where not exists (select from existing)
				on conflict do nothing
				returning *),
			activation as (
				insert into ${tokens} (id, account_id, purpose, token_hash, expires_at)
				select ?, id, 'activation', ?, ? from inserted),
			account as (select *, false as created from existing union all select *, true as created from inserted),
			fresh as (
				insert into identity.purchase_events (event_id, account_id, order_id, product_code, occurred_at, source)
				select ?, id, ?, ?, ?, ? from account
				on conflict (event_id) do nothing
				returning account_id),
			product as (
				insert into ${products} (account_id, product_code, product_name, order_id, since)
				select account_id, ?, ?, ?, ? from fresh
				on conflict (account_id, product_code) do nothing
				returning 1)
			select *, exists (select from fresh) as fresh, exists (select from product) as product_is_new from account`,
			[
				emailNormalized,
				randomUUID(),
				username,
				email.trim(),
				emailNormalized,
				randomUUID(),
				activation.tokenHash,
				activation.expiresAt,
				event.eventId,
				event.orderId,
				code,
				event.occurredAt,
				source,
				code,
				event.product.name,
				event.orderId,
				event.occurredAt,
			],
		);
		const [found] = rows;
		if (found) {
			const { created, fresh, product_is_new, ...account } = found;
			return { account, created, fresh, productIsNew: product_is_new };
		}
		// Either the email arrived concurrently (re-read on the next pass) or the user name is taken (next candidate).
	}
	throw new Error("unreachable: username candidates are infinite");
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
