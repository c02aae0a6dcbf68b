import { randomUUID } from "node:crypto";
import type { PurchaseEvent } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import type { AccountRow, Me } from "./types";
import { usernameCandidates } from "./usernames";

const accounts = "identity.accounts";
const products = "identity.account_products";

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export function findByLogin(db: Knex, login: string): Promise<AccountRow | undefined> {
	const key = login.trim().toLowerCase();
	return db<AccountRow>(accounts).where("username", key).orWhere("email_normalized", key).first();
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

/**
 * Finds the account for an email or creates a pending one with a unique user name. Safe under
 * concurrency: a racing insert of the same email is detected by the unique index and re-read.
 */
export async function findOrCreateForPurchase(trx: Knex.Transaction, email: string): Promise<{ account: AccountRow; created: boolean }> {
	const emailNormalized = normalizeEmail(email);
	for (const username of usernameCandidates(emailNormalized)) {
		const existing = await trx<AccountRow>(accounts).where({ email_normalized: emailNormalized }).forUpdate().first();
		if (existing) return { account: existing, created: false };
		const [inserted] = await trx<AccountRow>(accounts)
			.insert({ id: randomUUID(), username, email: email.trim(), email_normalized: emailNormalized, status: "pending" })
			.onConflict()
			.ignore()
			.returning("*");
		if (inserted) return { account: inserted, created: true };
		// Either the email arrived concurrently (re-read above) or the user name is taken (next candidate).
	}
	throw new Error("unreachable: username candidates are infinite");
}

/** Adds the product to the account; false when the account already had it. */
export async function addProduct(trx: Knex.Transaction, accountId: string, event: PurchaseEvent): Promise<boolean> {
	const inserted = await trx(products)
		.insert({
			account_id: accountId,
			product_code: event.product.code.toUpperCase(),
			product_name: event.product.name,
			order_id: event.orderId,
			since: event.occurredAt,
		})
		.onConflict(["account_id", "product_code"])
		.ignore()
		.returning("product_code");
	return inserted.length === 1;
}

export async function describe(db: Knex, account: AccountRow): Promise<Me> {
	const rows: { product_code: string; product_name: string; since: Date }[] = await db(products)
		.where({ account_id: account.id })
		.orderBy("since");
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
