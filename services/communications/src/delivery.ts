import type { Knex } from "@portal/platform";
import nodemailer, { type Transporter } from "nodemailer";
import { captureDue, claimDue, type MailRow, markFinal, markRetry, markSent } from "./mails.repo";

/** Retry schedule for passing SMTP failures: 1 s, 2 s, 4 s … capped at 15 min; given up after 12 tries. */
export const MAX_ATTEMPTS = 12;
export const retryDelayMs = (attempt: number): number => Math.min(1_000 * 2 ** (attempt - 1), 15 * 60_000);

export interface MailSender {
	kind: "smtp" | "captured";
	send(mail: MailRow): Promise<void>;
	close(): void;
}

/** Parallel SMTP connections per replica; each carries many mails before it is renewed. */
export const SMTP_CONNECTIONS = 5;

/** Delivers through nodemailer to SMTP_URL, or captures (development): the row itself is the mailbox. */
export function createSender(smtpUrl: string | null): MailSender {
	if (!smtpUrl) return { kind: "captured", send: async () => undefined, close: () => undefined };
	// Pooled: a connection per mail would cost a TCP and SMTP handshake each (7 mails/s measured).
	const transport: Transporter = nodemailer.createTransport({
		url: smtpUrl,
		pool: true,
		maxConnections: SMTP_CONNECTIONS,
		maxMessages: 100,
	});
	return {
		kind: "smtp",
		async send(mail) {
			await transport.sendMail({
				from: mail.from_address,
				to: mail.to_address,
				subject: mail.subject,
				text: mail.text_body ?? "",
				html: mail.html_body ?? undefined,
				headers: mail.headers,
				// The idempotency key as Message-ID lets a receiving server drop a resent duplicate.
				messageId: `<${mail.idempotency_key.replace(/[^A-Za-z0-9._-]/g, "_")}@portal.omti>`,
			});
		},
		close: () => transport.close(),
	};
}

/** What became of one mail in a pass: `retry` is not final; the others are (for the domain metrics). */
export type DeliveryOutcome = "sent" | "retry" | "bounced" | "failed";

/** SMTP 5xx answers are permanent (the mailbox does not exist, the message is refused). */
const isPermanent = (err: unknown): boolean => {
	const code = (err as { responseCode?: number }).responseCode;
	return typeof code === "number" && code >= 500 && code < 600;
};

/** Sends one claimed mail and records the outcome: sent, retry later, or final (bounced, failed). */
async function deliverOne(db: Knex, sender: MailSender, mail: MailRow): Promise<DeliveryOutcome> {
	try {
		await sender.send(mail);
	} catch (err) {
		const message = err instanceof Error ? err.message : String(err);
		if (isPermanent(err)) {
			await markFinal(db, mail.id, "bounced", message);
			return "bounced";
		}
		if (mail.attempts >= MAX_ATTEMPTS) {
			await markFinal(db, mail.id, "failed", message);
			return "failed";
		}
		await markRetry(db, mail.id, message, new Date(Date.now() + retryDelayMs(mail.attempts)));
		return "retry";
	}
	await markSent(db, mail.id, sender.kind);
	return "sent";
}

/**
 * One delivery pass: claims due mails in batches and sends each batch concurrently over the pooled
 * connections, until nothing is due; returns how many were handled. A claim is a lease: if this
 * replica dies mid-batch, another takes the mails over once the lease lapses. Captured mail is
 * delivered by being marked sent, a batch per statement.
 */
export async function deliverDue(
	db: Knex,
	sender: MailSender,
	onOutcome: (outcome: DeliveryOutcome) => void = () => undefined,
	batchSize = 4 * SMTP_CONNECTIONS,
): Promise<number> {
	let handled = 0;
	for (;;) {
		let count: number;
		if (sender.kind === "captured") {
			count = await captureDue(db, batchSize);
			for (let i = 0; i < count; i++) onOutcome("sent");
		} else {
			const due = await claimDue(db, batchSize);
			await Promise.all(due.map(async (mail) => onOutcome(await deliverOne(db, sender, mail))));
			count = due.length;
		}
		handled += count;
		if (count < batchSize) return handled;
	}
}
