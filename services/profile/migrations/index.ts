import { type Migration, messagingTables, runStatements } from "@portal/platform";

export const migrations: readonly Migration[] = [
	{
		name: "001_profiles_revisions_ledger",
		async up(db) {
			await runStatements(
				db,
				`
				create table profile.profiles (
					account_id uuid primary key,
					given_name text,
					family_name text,
					email text,
					phone text,
					street text,
					city text,
					region text,
					postal_code text,
					country text,
					company text,
					job_title text,
					locale text,
					time_zone text,
					version integer not null default 1,
					created_at timestamptz not null default now(),
					updated_at timestamptz not null default now()
				);
				create table profile.revisions (
					id uuid primary key,
					account_id uuid not null references profile.profiles (account_id) on delete cascade,
					version integer not null,
					actor_kind text not null,
					actor_id text not null,
					at timestamptz not null default now(),
					changes jsonb not null,
					ip text,
					user_agent text
				);
				create index revisions_account on profile.revisions (account_id, at desc);
				create table profile.email_changes (
					id uuid primary key,
					account_id uuid not null references profile.profiles (account_id) on delete cascade,
					new_email text not null,
					token_hash text not null unique,
					created_at timestamptz not null default now(),
					expires_at timestamptz not null,
					used_at timestamptz,
					superseded_at timestamptz
				);
				create index email_changes_account on profile.email_changes (account_id);
				create table profile.access_ledger (
					id uuid primary key,
					account_id uuid not null,
					actor_id uuid not null,
					action text not null check (action in ('read', 'edit')),
					sections text[] not null,
					at timestamptz not null default now(),
					ip text
				);
				create index access_ledger_account on profile.access_ledger (account_id, at desc);
				${messagingTables("profile")}
			`,
			);
		},
		async down(db) {
			await db.raw("drop schema profile cascade");
		},
	},
];
