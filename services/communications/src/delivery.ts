import type { Knex } from "@portal/platform";
import nodemailer, { type Transporter } from "nodemailer";
import { claimDue, type MailRow, markFinal, markRetry, markSent } from "./mails.repo";

/** Retry schedule for passing SMTP failures: 1 s, 2 s, 4 s … capped at 15 min; given up after 12 tries. */
export const MAX_ATTEMPTS = 12;
export const retryDelayMs = (attempt: number): number => Math.min(1_000 * 2 ** (attempt - 1), 15 * 60_000);

export interface MailSender {
	kind: "smtp" | "captured";
	send(mail: MailRow): Promise<void>;
	close(): void;
}

/** Delivers through nodemailer to SMTP_URL, or captures (development): the row itself is the mailbox. */
export function createSender(smtpUrl: string | null): MailSender {
	if (!smtpUrl) return { kind: "captured", send: async () => undefined, close: () => undefined };
	const transport: Transporter = nodemailer.createTransport(smtpUrl);
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

/** SMTP 5xx answers are permanent (the mailbox does not exist, the message is refused). */
const isPermanent = (err: unknown): boolean => {
	const code = (err as { responseCode?: number }).responseCode;
	return typeof code === "number" && code >= 500 && code < 600;
};

/** One delivery pass: claim due mails and send each; returns how many were handled. */
export async function deliverDue(db: Knex, sender: MailSender, batchSize = 20): Promise<number> {
	const due = await claimDue(db, batchSize);
	for (const mail of due) {
		try {
			await sender.send(mail);
			await markSent(db, mail.id, sender.kind);
		} catch (err) {
			const message = err instanceof Error ? err.message : String(err);
			if (isPermanent(err)) await markFinal(db, mail.id, "bounced", message);
			else if (mail.attempts >= MAX_ATTEMPTS) await markFinal(db, mail.id, "failed", message);
			else await markRetry(db, mail.id, message, new Date(Date.now() + retryDelayMs(mail.attempts)));
		}
	}
	return due.length;
}
