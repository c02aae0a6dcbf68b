import { randomUUID } from "node:crypto";
import type { ProfileSection, ShareRole } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import type { CandidateGrant } from "./check";
import type { GrantRow } from "./types";

const grants = "sharing.grants";

/**
 * Every write that can change a decision bumps the owner's version in the same transaction. A
 * decision computed from an older version is never cached (see sharing.service `check`).
 */
export async function bumpOwnerVersion(trx: Knex.Transaction, ownerId: string): Promise<void> {
	await trx.raw(
		`insert into sharing.owner_versions (owner_id, version) values (?, 1)
		 on conflict (owner_id) do update set version = sharing.owner_versions.version + 1`,
		[ownerId],
	);
}

export async function ownerVersion(db: Knex, ownerId: string): Promise<number> {
	const row = await db("sharing.owner_versions").where({ owner_id: ownerId }).first("version");
	return row ? Number(row.version) : 0;
}

/**
 * What a check decides from, in one round trip: the owner's version and every grant from the owner
 * that could concern the actor (direct, or to a team the actor is or was in). One statement reads
 * both from one snapshot, so the version tags exactly the grants the decision saw.
 */
export async function decisionInputs(db: Knex, ownerId: string, actorId: string): Promise<{ version: number; grants: CandidateGrant[] }> {
	const { rows } = (await db
		.raw(
			`select v.version, g.role, g.sections, g.expires_at, g.revoked_at, g.team_id,
		        exists (select 1 from sharing.team_members m where m.team_id = g.team_id and m.account_id = :actorId) as is_member
		   from (select coalesce((select version from sharing.owner_versions where owner_id = :ownerId), 0) as version) v
		   left join ${grants} g on g.owner_id = :ownerId and (g.grantee_account_id = :actorId or g.team_id is not null)`,
			{ ownerId, actorId },
		)
		// A named statement, planned once per connection rather than on every uncached check (planning
		// cost several times executing it).
		.options({ name: "sharing_decision_inputs" })) as {
		rows: (Pick<GrantRow, "sections" | "expires_at" | "revoked_at" | "team_id"> & {
			version: string | number;
			role: ShareRole | null;
			is_member: boolean;
		})[];
	};
	return {
		version: Number(rows[0]?.version ?? 0),
		grants: rows.flatMap((row) =>
			row.role === null
				? []
				: [
						{
							role: row.role,
							sections: row.sections,
							expiresAt: row.expires_at ? new Date(row.expires_at) : null,
							revokedAt: row.revoked_at ? new Date(row.revoked_at) : null,
							via: row.team_id ? ("team" as const) : ("user" as const),
							actorIsMember: row.is_member,
						},
					],
		),
	};
}

export async function insertGrant(
	trx: Knex.Transaction,
	grant: {
		ownerId: string;
		granteeAccountId?: string;
		teamId?: string;
		role: ShareRole;
		sections: ProfileSection[] | null;
		expiresAt: Date | null;
	},
): Promise<GrantRow> {
	const [row] = await trx<GrantRow>(grants)
		.insert({
			id: randomUUID(),
			owner_id: grant.ownerId,
			grantee_account_id: grant.granteeAccountId ?? null,
			team_id: grant.teamId ?? null,
			role: grant.role,
			sections: grant.sections,
			expires_at: grant.expiresAt,
		})
		.returning("*");
	return row as GrantRow;
}

/** Revokes one of the owner's grants; undefined when it is not theirs or already revoked. */
export async function revokeGrant(trx: Knex.Transaction, ownerId: string, id: string): Promise<GrantRow | undefined> {
	const [row] = await trx<GrantRow>(grants)
		.where({ id, owner_id: ownerId })
		.whereNull("revoked_at")
		.update({ revoked_at: new Date() })
		.returning("*");
	return row;
}

/** The owner's grants that are not revoked, newest first (expired ones too, marked as such). */
export const ownerGrants = (db: Knex, ownerId: string): Promise<GrantRow[]> =>
	db<GrantRow>(grants).where({ owner_id: ownerId }).whereNull("revoked_at").orderBy("created_at", "desc");

/** Live grants that reach the account, directly or through a team it is in now. */
export const receivedGrants = (db: Knex, accountId: string): Promise<(GrantRow & { team_name: string | null })[]> =>
	db(`${grants} as g`)
		.leftJoin("sharing.teams as t", "t.id", "g.team_id")
		.select("g.*", "t.name as team_name")
		.whereNull("g.revoked_at")
		.andWhere((q) => q.whereNull("g.expires_at").orWhere("g.expires_at", ">", new Date()))
		.andWhere((q) =>
			q
				.where("g.grantee_account_id", accountId)
				.orWhereIn("g.team_id", db("sharing.team_members").select("team_id").where({ account_id: accountId })),
		)
		.orderBy("g.created_at", "desc");
