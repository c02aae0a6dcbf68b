import { randomUUID } from "node:crypto";
import type { ProfileSection } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import { FIELDS, fieldsOf } from "./fields";
import type { ChangeAuthor, FieldChange, ProfileRow, ProfileView, RevisionRow } from "./types";

const profiles = "profile.profiles";

/** A profile exists from the first time anyone asks for it; the purchase seed fills what is empty. */
export async function ensureProfile(db: Knex, accountId: string): Promise<void> {
	await db(profiles).insert({ account_id: accountId }).onConflict("account_id").ignore();
}

export const findProfile = (db: Knex, accountId: string): Promise<ProfileRow | undefined> =>
	db<ProfileRow>(profiles).where({ account_id: accountId }).first();

export const lockProfile = (trx: Knex.Transaction, accountId: string): Promise<ProfileRow | undefined> =>
	trx<ProfileRow>(profiles).where({ account_id: accountId }).forUpdate().first();

/**
 * Applies column changes to a locked profile, bumps its version and records the revision (R9):
 * who, when, which fields old → new, from which address. Unchanged values are not a change.
 */
export async function applyChanges(
	trx: Knex.Transaction,
	row: ProfileRow,
	changes: Record<string, string | null>,
	author: ChangeAuthor,
): Promise<ProfileRow> {
	const diff: FieldChange[] = [];
	for (const f of FIELDS) {
		if (!(f.column in changes)) continue;
		const before = row[f.column as keyof ProfileRow] as string | null;
		const after = changes[f.column] ?? null;
		if (before !== after) diff.push({ field: `${f.section}.${f.name}`, old: before, new: after });
	}
	if (diff.length === 0) return row;
	const update: Record<string, unknown> = { version: row.version + 1, updated_at: new Date() };
	for (const f of FIELDS) if (f.column in changes) update[f.column] = changes[f.column] ?? null;
	const [updated] = await trx<ProfileRow>(profiles).where({ account_id: row.account_id }).update(update).returning("*");
	await trx("profile.revisions").insert({
		id: randomUUID(),
		account_id: row.account_id,
		version: row.version + 1,
		actor_kind: author.kind,
		actor_id: author.id,
		changes: JSON.stringify(diff),
		ip: author.ip,
		user_agent: author.userAgent,
	});
	return updated as ProfileRow;
}

export const revisionsOf = (db: Knex, accountId: string, limit: number): Promise<RevisionRow[]> =>
	db<RevisionRow>("profile.revisions").where({ account_id: accountId }).orderBy("version", "desc").limit(limit);

/** Strong ETag of a profile version; every change bumps the version. */
export const etagOf = (row: Pick<ProfileRow, "version">): string => `"${row.version}"`;

/** If-Match holds when it lists the current ETag or is `*` (RFC 9110 §13.1.1, strong comparison). */
export function ifMatchHolds(header: string, row: Pick<ProfileRow, "version">): boolean {
	const tags = header.split(",").map((t) => t.trim());
	return tags.includes("*") || tags.includes(etagOf(row));
}

export function toView(row: ProfileRow, sections: readonly ProfileSection[], pendingEmail?: string | null): ProfileView {
	const view: ProfileView = {
		accountId: row.account_id,
		version: row.version,
		updatedAt: new Date(row.updated_at).toISOString(),
		sections: [...sections],
	};
	for (const section of sections) {
		const values: Record<string, string | null> = {};
		for (const f of fieldsOf(section)) values[f.name] = row[f.column as keyof ProfileRow] as string | null;
		(view as unknown as Record<string, unknown>)[section] = values;
	}
	if (view.contact && pendingEmail !== undefined) view.contact.pendingEmail = pendingEmail;
	return view;
}
