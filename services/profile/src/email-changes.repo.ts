import { randomUUID } from "node:crypto";
import { Gone, type Knex, newToken, sha256, ValidationError } from "@portal/platform";

const table = "profile.email_changes";

export interface EmailChangeRow {
	id: string;
	account_id: string;
	new_email: string;
	token_hash: string;
	created_at: Date;
	expires_at: Date;
	used_at: Date | null;
	superseded_at: Date | null;
}

/** R10: a new pending address replaces any earlier one; only the token's hash is stored. */
export async function requestEmailChange(
	trx: Knex.Transaction,
	accountId: string,
	newEmail: string,
	ttlMs: number,
): Promise<{ id: string; token: string; expiresAt: Date }> {
	await trx(table).where({ account_id: accountId }).whereNull("used_at").whereNull("superseded_at").update({ superseded_at: new Date() });
	const token = newToken();
	const id = randomUUID();
	const expiresAt = new Date(Date.now() + ttlMs);
	await trx(table).insert({ id, account_id: accountId, new_email: newEmail, token_hash: sha256(token), expires_at: expiresAt });
	return { id, token, expiresAt };
}

/** The address waiting for confirmation, if any, and when its link stops working. */
export async function pendingEmail(db: Knex, accountId: string): Promise<{ email: string; expiresAt: Date } | null> {
	const row = await db<EmailChangeRow>(table)
		.where({ account_id: accountId })
		.whereNull("used_at")
		.whereNull("superseded_at")
		.where("expires_at", ">", new Date())
		.orderBy("created_at", "desc")
		.first();
	return row ? { email: row.new_email, expiresAt: new Date(row.expires_at) } : null;
}

/** Takes the token once, under a row lock: unknown → 400, used, replaced or expired → 410. */
export async function consumeEmailToken(trx: Knex.Transaction, token: string): Promise<EmailChangeRow> {
	const row = await trx<EmailChangeRow>(table)
		.where({ token_hash: sha256(token) })
		.forUpdate()
		.first();
	if (!row) throw new ValidationError("This link is not valid.", [{ field: "token", message: "Unknown token." }], "INVALID_TOKEN", 400);
	if (row.used_at) throw new Gone("This link was already used.", "TOKEN_USED");
	if (row.superseded_at) throw new Gone("A newer email change replaced this one.", "TOKEN_SUPERSEDED");
	if (new Date(row.expires_at).getTime() <= Date.now()) throw new Gone("This link has expired.", "TOKEN_EXPIRED");
	await trx(table).where({ id: row.id }).update({ used_at: new Date() });
	return row;
}
