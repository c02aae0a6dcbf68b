import { type Migration, messagingTables, runStatements } from "@portal/platform";

export const migrations: readonly Migration[] = [
	{
		name: "001_grants_teams",
		async up(db) {
			await runStatements(
				db,
				`
				create table sharing.teams (
					id uuid primary key,
					owner_id uuid not null,
					name text not null,
					created_at timestamptz not null default now(),
					unique (owner_id, name)
				);
				create table sharing.team_members (
					team_id uuid not null references sharing.teams (id) on delete cascade,
					account_id uuid not null,
					added_at timestamptz not null default now(),
					primary key (team_id, account_id)
				);
				create index team_members_account on sharing.team_members (account_id);
				create table sharing.grants (
					id uuid primary key,
					owner_id uuid not null,
					grantee_account_id uuid,
					team_id uuid references sharing.teams (id),
					role text not null check (role in ('viewer', 'editor')),
					sections text[],
					expires_at timestamptz,
					created_at timestamptz not null default now(),
					revoked_at timestamptz,
					check ((grantee_account_id is null) <> (team_id is null))
				);
				create index grants_owner on sharing.grants (owner_id) where revoked_at is null;
				create index grants_grantee on sharing.grants (grantee_account_id) where revoked_at is null;
				create index grants_team on sharing.grants (team_id) where revoked_at is null;
				create table sharing.owner_versions (
					owner_id uuid primary key,
					version bigint not null
				);
				${messagingTables("sharing")}
			`,
			);
		},
		async down(db) {
			await db.raw("drop schema sharing cascade");
		},
	},
	{
		// A check reads every grant between an owner and an actor, revoked ones included (check.ts
		// decides what is live), which the partial index on live grants cannot serve: each uncached
		// check scanned the whole table.
		name: "002_grants_by_owner",
		async up(db) {
			await runStatements(
				db,
				`
				create index grants_by_owner on sharing.grants (owner_id);
				drop index sharing.grants_owner;
			`,
			);
		},
		async down(db) {
			await runStatements(
				db,
				`
				create index grants_owner on sharing.grants (owner_id) where revoked_at is null;
				drop index sharing.grants_by_owner;
			`,
			);
		},
	},
];
