import { type Migration, messagingTables, runStatements } from "@portal/platform";

export const migrations: readonly Migration[] = [
	{
		name: "001_accounts_sessions_tokens",
		async up(db) {
			await runStatements(
				db,
				`
				create table identity.accounts (
					id uuid primary key,
					username text not null unique,
					email text not null,
					email_normalized text not null unique,
					kind text not null default 'customer' check (kind in ('customer', 'staff')),
					roles text[] not null default '{}',
					status text not null check (status in ('pending', 'active', 'disabled')),
					password_hash text,
					created_at timestamptz not null default now(),
					activated_at timestamptz,
					password_changed_at timestamptz
				);
				create table identity.account_products (
					account_id uuid not null references identity.accounts (id) on delete cascade,
					product_code text not null,
					product_name text not null,
					order_id text not null,
					since timestamptz not null,
					primary key (account_id, product_code)
				);
				create table identity.purchase_events (
					event_id text primary key,
					account_id uuid not null references identity.accounts (id) on delete cascade,
					order_id text not null,
					product_code text not null,
					occurred_at timestamptz not null,
					received_at timestamptz not null default now(),
					source text not null check (source in ('channel', 'webhook'))
				);
				create table identity.tokens (
					id uuid primary key,
					account_id uuid not null references identity.accounts (id) on delete cascade,
					purpose text not null check (purpose in ('activation', 'password_reset')),
					token_hash text not null unique,
					created_at timestamptz not null default now(),
					expires_at timestamptz not null,
					used_at timestamptz
				);
				create index tokens_account on identity.tokens (account_id, purpose);
				create table identity.sessions (
					id uuid primary key,
					account_id uuid not null references identity.accounts (id) on delete cascade,
					token_hash text not null unique,
					created_at timestamptz not null default now(),
					last_used_at timestamptz not null default now(),
					expires_at timestamptz not null,
					user_agent text not null default '',
					ip text not null default '',
					revoked_at timestamptz
				);
				create index sessions_account on identity.sessions (account_id) where revoked_at is null;
				${messagingTables("identity")}
			`,
			);
		},
		async down(db) {
			await db.raw("drop schema identity cascade");
		},
	},
	{
		name: "002_second_factor_reauthentication",
		async up(db) {
			await runStatements(
				db,
				`
				alter table identity.accounts
					add column totp_secret text,
					add column totp_pending_secret text,
					add column totp_enabled_at timestamptz,
					add column totp_last_step bigint;
				create table identity.recovery_codes (
					id uuid primary key,
					account_id uuid not null references identity.accounts (id) on delete cascade,
					code_hash text not null unique,
					created_at timestamptz not null default now(),
					used_at timestamptz
				);
				create index recovery_codes_account on identity.recovery_codes (account_id);
				alter table identity.sessions add column reauthenticated_at timestamptz;
			`,
			);
		},
		async down(db) {
			await runStatements(
				db,
				`
				alter table identity.sessions drop column reauthenticated_at;
				drop table identity.recovery_codes;
				alter table identity.accounts
					drop column totp_secret,
					drop column totp_pending_secret,
					drop column totp_enabled_at,
					drop column totp_last_step;
			`,
			);
		},
	},
];
