import { type Migration, messagingTables, runStatements } from "@portal/platform";

export const migrations: readonly Migration[] = [
	{
		name: "001_compliance",
		async up(db) {
			await runStatements(
				db,
				`
				create table compliance.accounts (
					account_id uuid primary key,
					email text not null,
					country text,
					region text,
					registered_at timestamptz not null
				);
				create table compliance.policy_versions (
					version text primary key,
					body text not null,
					summary text not null,
					effective_at timestamptz not null,
					published_at timestamptz not null,
					published_by uuid,
					notice_status text not null check (notice_status in ('publishing', 'done')),
					notice_cursor uuid,
					notices_sent integer not null default 0
				);
				create table compliance.policy_notices (
					version text not null references compliance.policy_versions (version),
					account_id uuid not null,
					delivered_at timestamptz not null,
					mailed_at timestamptz not null,
					acknowledged_at timestamptz,
					primary key (account_id, version)
				);
				create table compliance.consents (
					id uuid primary key,
					account_id uuid not null,
					purpose text not null,
					recipient text not null,
					scope text[] not null,
					policy_version text not null,
					source text not null,
					given_at timestamptz not null,
					ip text not null,
					user_agent text not null,
					gpc_at_grant boolean not null default false,
					withdrawn_at timestamptz,
					withdrawn_source text,
					withdrawn_ip text,
					withdrawn_user_agent text
				);
				create index consents_account on compliance.consents (account_id, withdrawn_at);
				create table compliance.gpc_signals (
					account_id uuid primary key,
					first_seen_at timestamptz not null,
					last_seen_at timestamptz not null
				);
				create table compliance.disclosures (
					id uuid primary key,
					account_id uuid not null,
					recipient text not null,
					purpose text not null,
					sections text[] not null,
					basis text not null,
					reference text,
					consent_id uuid references compliance.consents (id),
					approved_by uuid,
					requested_by text not null,
					notify_after timestamptz,
					disclosed_at timestamptz not null
				);
				create index disclosures_account on compliance.disclosures (account_id, disclosed_at);
				create table compliance.agreements (
					product_code text not null,
					version text not null,
					title text not null,
					clauses jsonb not null,
					effective_at timestamptz not null,
					published_at timestamptz not null,
					published_by uuid,
					primary key (product_code, version)
				);
				create table compliance.account_products (
					account_id uuid not null,
					product_code text not null,
					since timestamptz not null,
					primary key (account_id, product_code)
				);
				create table compliance.agreement_acceptances (
					account_id uuid not null,
					product_code text not null,
					version text not null,
					accepted_at timestamptz not null,
					source text not null check (source in ('purchase', 'acceptance')),
					primary key (account_id, product_code, version),
					foreign key (product_code, version) references compliance.agreements (product_code, version)
				);
				create table compliance.privacy_requests (
					id uuid primary key,
					account_id uuid not null,
					type text not null check (type in ('access')),
					status text not null check (status in ('received', 'extended', 'completed')),
					residency_basis text not null,
					received_at timestamptz not null,
					due_at timestamptz not null,
					extended_at timestamptz,
					extension_reason text,
					completed_at timestamptz,
					download_expires_at timestamptz
				);
				create index privacy_requests_account on compliance.privacy_requests (account_id, received_at);
				create table compliance.privacy_request_events (
					id bigserial primary key,
					request_id uuid not null references compliance.privacy_requests (id) on delete cascade,
					account_id uuid not null,
					status text not null,
					note text,
					actor_id text,
					at timestamptz not null
				);
				create table compliance.inquiries (
					id uuid primary key,
					account_id uuid not null,
					subject text not null,
					message text not null,
					status text not null check (status in ('open', 'answered')),
					created_at timestamptz not null,
					answer text,
					answered_by uuid,
					answered_at timestamptz
				);
				create index inquiries_status on compliance.inquiries (status, created_at);
				${messagingTables("compliance")}
				insert into compliance.policy_versions (version, body, summary, effective_at, published_at, notice_status)
				values ('2026-01', 'The OMTI privacy policy as first published with the Customer Portal.', 'First version.', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'done');
			`,
			);
		},
		async down(db) {
			await db.raw("drop schema compliance cascade");
		},
	},
];
