import { randomUUID } from "node:crypto";
import type { ProfileSection } from "@portal/contracts";
import type { Knex } from "@portal/platform";

export interface LedgerRow {
	id: string;
	account_id: string;
	actor_id: string;
	action: "read" | "edit";
	sections: ProfileSection[];
	at: Date;
	ip: string | null;
}

/** R13: one line per read or edit of someone's profile by another account. */
export async function recordAccess(
	db: Knex,
	entry: { ownerId: string; actorId: string; action: "read" | "edit"; sections: ProfileSection[]; ip: string | null },
): Promise<void> {
	await db("profile.access_ledger").insert({
		id: randomUUID(),
		account_id: entry.ownerId,
		actor_id: entry.actorId,
		action: entry.action,
		sections: entry.sections,
		ip: entry.ip,
	});
}

export const ledgerOf = (db: Knex, ownerId: string, limit: number): Promise<LedgerRow[]> =>
	db<LedgerRow>("profile.access_ledger").where({ account_id: ownerId }).orderBy("at", "desc").limit(limit);
