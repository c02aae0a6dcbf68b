import { randomUUID } from "node:crypto";
import type { Knex } from "@portal/platform";
import type { LegalHoldRow } from "./types";

const HOLDS = "activity_log.legal_holds";

export const activeHolds = (db: Knex): Promise<LegalHoldRow[]> => db<LegalHoldRow>(HOLDS).whereNull("lifted_at").orderBy("placed_at");

export async function placeHold(trx: Knex.Transaction, accountId: string, reason: string, staffId: string): Promise<LegalHoldRow | null> {
	const [row] = await trx(HOLDS)
		.insert({ id: randomUUID(), account_id: accountId, reason, placed_by: staffId })
		.onConflict(trx.raw("(account_id) where lifted_at is null"))
		.ignore()
		.returning("*");
	return (row as LegalHoldRow | undefined) ?? null;
}

export async function liftHold(trx: Knex.Transaction, accountId: string, staffId: string): Promise<LegalHoldRow | null> {
	const [row] = await trx(HOLDS)
		.where({ account_id: accountId })
		.whereNull("lifted_at")
		.update({ lifted_at: trx.fn.now(), lifted_by: staffId })
		.returning("*");
	return (row as LegalHoldRow | undefined) ?? null;
}
