import { randomUUID } from "node:crypto";
import { Gone, type Knex, newToken, sha256, ValidationError } from "@portal/platform";
import type { TokenRow } from "./types";

const tokens = "identity.tokens";

/** A new single-use token: only its SHA-256 is stored, the raw value goes out once by mail. */
export function newSingleUseToken(ttlMs: number): { token: string; tokenHash: string; expiresAt: Date } {
	const token = newToken();
	return { token, tokenHash: sha256(token), expiresAt: new Date(Date.now() + ttlMs) };
}

/** Issues a single-use token for the account (see {@link newSingleUseToken}). */
export async function issueToken(
	trx: Knex.Transaction,
	accountId: string,
	purpose: TokenRow["purpose"],
	ttlMs: number,
): Promise<{ token: string; expiresAt: Date }> {
	const { token, tokenHash, expiresAt } = newSingleUseToken(ttlMs);
	await trx(tokens).insert({ id: randomUUID(), account_id: accountId, purpose, token_hash: tokenHash, expires_at: expiresAt });
	return { token, expiresAt };
}

/**
 * Takes a token for use inside the caller's transaction, locking it so that two concurrent uses
 * cannot both succeed. Unknown → 400; used or expired → 410 (API.md).
 */
export async function consumeToken(trx: Knex.Transaction, token: string, purpose: TokenRow["purpose"]): Promise<TokenRow> {
	const row = await trx<TokenRow>(tokens)
		.where({ token_hash: sha256(token), purpose })
		.forUpdate()
		.first();
	if (!row) throw new ValidationError("This link is not valid.", [{ field: "token", message: "Unknown token." }], "INVALID_TOKEN", 400);
	if (row.used_at) throw new Gone("This link was already used.", "TOKEN_USED");
	if (new Date(row.expires_at).getTime() <= Date.now()) throw new Gone("This link has expired.", "TOKEN_EXPIRED");
	await trx(tokens).where({ id: row.id }).update({ used_at: new Date() });
	return row;
}

/** Reads a token without using it, to validate a password against the account before hashing. */
export const peekToken = (db: Knex, token: string, purpose: TokenRow["purpose"]): Promise<TokenRow | undefined> =>
	db<TokenRow>(tokens)
		.where({ token_hash: sha256(token), purpose })
		.first();

/** Ends the account's unused tokens of a purpose, so that only the newest mailed link works. */
export async function expireTokens(trx: Knex.Transaction, accountId: string, purpose: TokenRow["purpose"]): Promise<void> {
	await trx(tokens)
		.where({ account_id: accountId, purpose })
		.whereNull("used_at")
		.where("expires_at", ">", new Date())
		.update({ expires_at: new Date() });
}
