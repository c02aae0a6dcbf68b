/**
 * Durable channels (ARCHITECTURE rule 2). Every message carries `messageId`, the key consumers
 * deduplicate on, because delivery is at-least-once.
 */
export const Channels = {
	purchaseCompleted: "omti.purchases.completed",
	purchaseDead: "omti.purchases.dead",
	accountCreated: "identity.account.created",
	productAdded: "identity.product.added",
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

export interface DeadLetter {
	reason: string;
	errors?: { field: string; message: string }[];
	receivedAt: string;
	original: unknown;
}
