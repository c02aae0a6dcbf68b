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
];
