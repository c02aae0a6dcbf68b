import { randomUUID } from "node:crypto";
import type { Knex } from "@portal/platform";
import type { TeamMemberRow, TeamRow } from "./types";

export async function createTeam(trx: Knex.Transaction, ownerId: string, name: string): Promise<TeamRow> {
	const [row] = await trx<TeamRow>("sharing.teams").insert({ id: randomUUID(), owner_id: ownerId, name }).returning("*");
	return row as TeamRow;
}

export const ownedTeam = (db: Knex, ownerId: string, teamId: string): Promise<TeamRow | undefined> =>
	db<TeamRow>("sharing.teams").where({ id: teamId, owner_id: ownerId }).first();

export const ownedTeams = (db: Knex, ownerId: string): Promise<TeamRow[]> =>
	db<TeamRow>("sharing.teams").where({ owner_id: ownerId }).orderBy("created_at");

export const membersOf = (db: Knex, teamIds: string[]): Promise<TeamMemberRow[]> =>
	teamIds.length === 0 ? Promise.resolve([]) : db<TeamMemberRow>("sharing.team_members").whereIn("team_id", teamIds).orderBy("added_at");

/** True when the member was added (false: already a member). */
export async function addMember(trx: Knex.Transaction, teamId: string, accountId: string): Promise<boolean> {
	const inserted = await trx("sharing.team_members")
		.insert({ team_id: teamId, account_id: accountId })
		.onConflict(["team_id", "account_id"])
		.ignore()
		.returning("account_id");
	return inserted.length === 1;
}

export async function removeMember(trx: Knex.Transaction, teamId: string, accountId: string): Promise<boolean> {
	// `returning` rather than the affected-row count, which the embedded driver does not report.
	const removed = await trx("sharing.team_members").where({ team_id: teamId, account_id: accountId }).delete().returning("account_id");
	return removed.length > 0;
}
