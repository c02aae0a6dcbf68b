/**
 * Durable channels (ARCHITECTURE rule 2). Every message carries `messageId`, the key consumers
 * deduplicate on, because delivery is at-least-once. Producers write messages to their outbox in
 * the same transaction as the change they report (platform `Outbox` mixin).
 */
export const Channels = {
	purchaseCompleted: "omti.purchases.completed",
	purchaseDead: "omti.purchases.dead",
	accountCreated: "identity.account.created",
	productAdded: "identity.product.added",
	/** Any service asks communications to send one mail from a template (see MailRequestedMessage). */
	mailRequested: "communications.mail.requested",
	/** Usage records for the activity log: sign-ins, link clicks (R14). */
	usageRecorded: "activity.usage.recorded",
	/** Security and privacy events for the per-account, hash-chained audit trail (R17). */
	auditRecorded: "activity.audit.recorded",
} as const;

export interface DurableMessage {
	messageId: string;
	occurredAt: string;
}

export interface AccountCreatedMessage extends DurableMessage {
	accountId: string;
	username: string;
	email: string;
	givenName?: string;
	familyName?: string;
	company?: string;
	country?: string;
	region?: string;
	product: { code: string; name: string };
	/** The raw activation token travels once, to be mailed; identity keeps only its hash. */
	activationToken: string;
	activationExpiresAt: string;
}

export interface ProductAddedMessage extends DurableMessage {
	accountId: string;
	username: string;
	email: string;
	product: { code: string; name: string };
}

/**
 * A mail to send. `template` names a template communications knows; `data` fills it (strings only,
 * escaped in HTML). `idempotencyKey` makes a repeated request a no-op (R21). Service mails always go
 * out (R19); marketing mails are checked against preferences by communications itself.
 */
export interface MailRequestedMessage extends DurableMessage {
	idempotencyKey: string;
	accountId?: string;
	to: string;
	template: string;
	data: Record<string, string>;
}

export type UsageKind = "sign-in" | "sign-in-failed" | "link-click";

export interface UsageRecordedMessage extends DurableMessage {
	accountId: string;
	kind: UsageKind;
	at: string;
	/** For link clicks: the link's id and target; for sign-ins: the client's address and agent. */
	detail: Record<string, string>;
}

export interface AuditRecordedMessage extends DurableMessage {
	accountId: string;
	/** `<domain>.<entity>.<pastTense>`, e.g. `identity.password.changed`, `sharing.grant.created`. */
	action: string;
	actor: { kind: string; id: string };
	at: string;
	detail: Record<string, unknown>;
}

export interface DeadLetter {
	reason: string;
	errors?: { field: string; message: string }[];
	receivedAt: string;
	original: unknown;
}
