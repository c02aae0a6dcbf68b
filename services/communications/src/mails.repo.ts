import { randomUUID } from "node:crypto";
import type { Knex } from "@portal/platform";
import type { RenderedMail } from "./templates";

const mails = "communications.mails";

export interface MailRow {
	id: string;
	idempotency_key: string;
	account_id: string | null;
	kind: "service" | "marketing";
	template: string;
	to_address: string;
	from_address: string;
	subject: string;
	text_body: string | null;
	html_body: string | null;
	headers: Record<string, string>;
	status: "pending" | "sending" | "sent" | "bounced" | "failed";
	attempts: number;
	next_attempt_at: Date;
	last_error: string | null;
	transport: string | null;
	created_at: Date;
	sent_at: Date | null;
}

export interface NewMail {
	idempotencyKey: string;
	accountId?: string;
	template: string;
	to: string;
	from: string;
	rendered: RenderedMail;
	headers?: Record<string, string>;
}

/** Queues a mail once per idempotency key (R21); a repeated key is a no-op. */
export async function enqueueMail(db: Knex, mail: NewMail): Promise<boolean> {
	return (await enqueueMails(db, [mail])) === 1;
}

/** Queues mails in one statement, each once per idempotency key; returns how many were new. */
export async function enqueueMails(db: Knex, batch: readonly NewMail[]): Promise<number> {
	if (batch.length === 0) return 0;
	const inserted = await db(mails)
		.insert(
			batch.map((mail) => ({
				id: randomUUID(),
				idempotency_key: mail.idempotencyKey,
				account_id: mail.accountId ?? null,
				kind: mail.rendered.kind,
				template: mail.template,
				to_address: mail.to,
				from_address: mail.from,
				subject: mail.rendered.subject,
				text_body: mail.rendered.text,
				html_body: mail.rendered.html,
				headers: mail.headers ?? {},
			})),
		)
		.onConflict("idempotency_key")
		.ignore()
		.returning("id");
	return inserted.length;
}

/** How long a claimed mail stays ours before another replica may take it over. */
const LEASE_SECONDS = 60;

/** Due mails: pending ones whose time has come and sending ones whose lease lapsed (a replica died mid-send). */
const DUE = `select id from ${mails}
	where (status = 'pending' and next_attempt_at <= now()) or (status = 'sending' and locked_until < now())
	order by next_attempt_at
	limit ?
	for update skip locked`;

/** Claims due mails for this replica: a lease, so that replicas share the queue without waiting. */
export async function claimDue(db: Knex, limit: number): Promise<MailRow[]> {
	const { rows } = await db.raw(
		`update ${mails} set status = 'sending', attempts = attempts + 1, locked_until = now() + make_interval(secs => ?)
		 where id in (${DUE})
		 returning *`,
		[LEASE_SECONDS, limit],
	);
	return rows as MailRow[];
}

/**
 * Captured mail (development) leaves nothing outside the database: the row is the mailbox, so due
 * mails are delivered by marking them sent, in one statement. Returns how many.
 */
export async function captureDue(db: Knex, limit: number): Promise<number> {
	const { rows } = await db.raw(
		`update ${mails} set status = 'sent', attempts = attempts + 1, sent_at = now(), locked_until = null, last_error = null,
			transport = 'captured'
		 where id in (${DUE})
		 returning id`,
		[limit],
	);
	return rows.length;
}

export async function markSent(db: Knex, id: string, transport: "smtp" | "captured"): Promise<void> {
	// A sent mail's body may hold a single-use link: keep it only where it is the mailbox (captured).
	const scrub = transport === "smtp" ? { text_body: null, html_body: null } : {};
	await db(mails)
		.where({ id })
		.update({ status: "sent", sent_at: new Date(), locked_until: null, last_error: null, transport, ...scrub });
}

export async function markRetry(db: Knex, id: string, error: string, nextAttemptAt: Date): Promise<void> {
	await db(mails)
		.where({ id })
		.update({ status: "pending", locked_until: null, last_error: error.slice(0, 500), next_attempt_at: nextAttemptAt });
}

export async function markFinal(db: Knex, id: string, status: "bounced" | "failed", error: string): Promise<void> {
	await db(mails)
		.where({ id })
		.update({ status, locked_until: null, last_error: error.slice(0, 500) });
}

/** The captured mails of one address, newest first (embedded mode's mailbox). */
export function capturedFor(db: Knex, to: string | undefined, limit: number): Promise<MailRow[]> {
	const query = db<MailRow>(mails).where({ transport: "captured" }).orderBy("created_at", "desc").limit(limit);
	if (to) query.whereRaw("lower(to_address) = lower(?)", [to]);
	return query;
}
