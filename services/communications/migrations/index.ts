import { type Migration, messagingTables, runStatements } from "@portal/platform";

export const migrations: readonly Migration[] = [
	{
		name: "001_mails",
		async up(db) {
			await runStatements(
				db,
				`
				create table communications.mails (
					id uuid primary key,
					idempotency_key text not null unique,
					account_id uuid,
					kind text not null check (kind in ('service', 'marketing')),
					template text not null,
					to_address text not null,
					from_address text not null,
					subject text not null,
					text_body text,
					html_body text,
					headers jsonb not null default '{}',
					status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'bounced', 'failed')),
					attempts integer not null default 0,
					next_attempt_at timestamptz not null default now(),
					locked_until timestamptz,
					last_error text,
					transport text,
					created_at timestamptz not null default now(),
					sent_at timestamptz
				);
				create index mails_due on communications.mails (next_attempt_at) where status in ('pending', 'sending');
				create index mails_account on communications.mails (account_id, created_at desc);
				create index mails_to on communications.mails (lower(to_address), created_at desc);
				${messagingTables("communications")}
			`,
			);
		},
		async down(db) {
			await db.raw("drop schema communications cascade");
		},
	},
	{
		// What communications keeps to send marketing lawfully (R18–R20): its own copy of each account's
		// address, country and products (from identity's channels), preferences with their history, and
		// campaigns whose progress lives here so that sending resumes after a crash.
		name: "002_preferences_campaigns",
		async up(db) {
			await runStatements(
				db,
				`
				create table communications.recipients (
					account_id uuid primary key,
					email text not null,
					username text not null,
					given_name text,
					country text,
					region text,
					created_at timestamptz not null default now(),
					updated_at timestamptz not null default now()
				);
				create table communications.recipient_products (
					account_id uuid not null references communications.recipients (account_id) on delete cascade,
					product_code text not null,
					product_name text not null,
					since timestamptz not null default now(),
					primary key (account_id, product_code)
				);
				create index recipient_products_code on communications.recipient_products (product_code);
				create table communications.preferences (
					account_id uuid primary key,
					marketing_email boolean not null,
					topics jsonb not null default '{}',
					locale text,
					source text not null,
					updated_at timestamptz not null default now()
				);
				create table communications.preference_changes (
					id uuid primary key,
					account_id uuid not null,
					at timestamptz not null default now(),
					source text not null,
					marketing_email boolean not null,
					topics jsonb not null default '{}',
					locale text,
					evidence jsonb not null default '{}'
				);
				create index preference_changes_account on communications.preference_changes (account_id, at);
				create table communications.campaigns (
					id uuid primary key,
					product_code text not null,
					subject text not null,
					message text not null,
					offer_url text not null,
					rate_per_second integer not null check (rate_per_second > 0),
					status text not null default 'sending' check (status in ('sending', 'done')),
					created_by uuid not null,
					created_at timestamptz not null default now(),
					resolved_at timestamptz,
					next_batch_at timestamptz not null default now(),
					finished_at timestamptz
				);
				create index campaigns_due on communications.campaigns (next_batch_at) where status = 'sending';
				create table communications.campaign_recipients (
					campaign_id uuid not null references communications.campaigns (id) on delete cascade,
					account_id uuid not null,
					outcome text not null default 'pending' check (outcome in ('pending', 'queued', 'suppressed')),
					reason text,
					idempotency_key text,
					decided_at timestamptz,
					primary key (campaign_id, account_id)
				);
				create index campaign_recipients_pending on communications.campaign_recipients (campaign_id) where outcome = 'pending';
				create index campaign_recipients_account on communications.campaign_recipients (account_id);
				create index mails_bounced on communications.mails (lower(to_address)) where status = 'bounced';
			`,
			);
		},
		async down(db) {
			await runStatements(
				db,
				`
				drop index communications.mails_bounced;
				drop table communications.campaign_recipients;
				drop table communications.campaigns;
				drop table communications.preference_changes;
				drop table communications.preferences;
				drop table communications.recipient_products;
				drop table communications.recipients;
			`,
			);
		},
	},
];
