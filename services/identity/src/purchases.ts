import { type AccountCreatedMessage, Channels, type ProductAddedMessage, type PurchaseEvent, purchaseEventSchema } from "@portal/contracts";
import type { FieldError, Knex } from "@portal/platform";
import Validator from "fastest-validator";
import { recordPurchaseEvent, recordPurchaseGroup } from "./accounts.repo";
import { newSingleUseToken } from "./tokens.repo";

export type PurchaseOutcome = "account-created" | "product-added" | "already-owned" | "duplicate";

const checkEvent = new Validator().compile(purchaseEventSchema);

/** Clock skew we tolerate between OMTI systems before a purchase "in the future" is refused. */
const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/**
 * Validates a purchase event as received (channel or webhook). Returns the cleaned event (unknown
 * fields removed, strings trimmed) or the field errors. The input is not modified.
 */
export function parsePurchaseEvent(input: unknown): { event: PurchaseEvent } | { errors: FieldError[] } {
	if (typeof input !== "object" || input === null || Array.isArray(input)) {
		return { errors: [{ field: "", message: "The event must be a JSON object." }] };
	}
	const event = structuredClone(input) as PurchaseEvent;
	const result = checkEvent(event);
	if (result !== true) {
		return { errors: (result as { field: string; message: string }[]).map((e) => ({ field: e.field, message: e.message })) };
	}
	if (new Date(event.occurredAt).getTime() > Date.now() + MAX_FUTURE_SKEW_MS) {
		return { errors: [{ field: "occurredAt", message: "The purchase is dated in the future." }] };
	}
	event.occurredAt = new Date(event.occurredAt).toISOString();
	return { event };
}

/** A fact for communications and compliance, written to the outbox with the purchases it reports. */
export type PurchaseFact =
	| { channel: typeof Channels.accountCreated; message: Omit<AccountCreatedMessage, "messageId" | "occurredAt"> }
	| { channel: typeof Channels.productAdded; message: Omit<ProductAddedMessage, "messageId" | "occurredAt"> };

export interface ReceivedPurchase {
	event: PurchaseEvent;
	source: "channel" | "webhook";
}

export interface PurchaseResult {
	outcome: PurchaseOutcome;
	accountId: string;
}

/**
 * R1/R2: one account per person (email compared without case), one effect per `eventId`. Each
 * purchase's account, product and activation token, and the facts for communications, are written
 * in one transaction for the group, so a crash leaves either all of it or none of it (and the events
 * are redelivered). A purchase seen before changes nothing.
 */
export async function recordPurchases(
	db: Knex,
	enqueueAll: (trx: Knex.Transaction, facts: PurchaseFact[]) => Promise<void>,
	purchases: readonly ReceivedPurchase[],
	activationTtlMs: number,
): Promise<PurchaseResult[]> {
	return db.transaction(async (trx) => {
		const results: PurchaseResult[] = [];
		const facts: PurchaseFact[] = [];
		const received = purchases.map((p) => ({ ...p, activation: newSingleUseToken(activationTtlMs) }));
		const decided = await recordPurchaseGroup(trx, received);
		for (const [i, { event, source, activation }] of received.entries()) {
			const { account, created, fresh, productIsNew } = decided[i] ?? (await recordPurchaseEvent(trx, event, source, activation));
			const accountId = account.id;
			if (!fresh) {
				// Only an event id reused for another email, in flight at the same time, gets here with a
				// new account: undo it; redelivered, the event finds its first delivery and is a duplicate.
				if (created) throw new Error(`purchase event ${event.eventId} raced with another use of its id`);
				results.push({ outcome: "duplicate", accountId });
				continue;
			}
			const product = { code: event.product.code.toUpperCase(), name: event.product.name };
			if (created) {
				facts.push({
					channel: Channels.accountCreated,
					message: {
						accountId,
						username: account.username,
						email: account.email,
						givenName: event.customer.givenName,
						familyName: event.customer.familyName,
						company: event.customer.company,
						country: event.customer.country,
						region: event.customer.region,
						product,
						activationToken: activation.token,
						activationExpiresAt: activation.expiresAt.toISOString(),
					},
				});
				results.push({ outcome: "account-created", accountId });
			} else if (productIsNew) {
				facts.push({ channel: Channels.productAdded, message: { accountId, username: account.username, email: account.email, product } });
				results.push({ outcome: "product-added", accountId });
			} else {
				results.push({ outcome: "already-owned", accountId });
			}
		}
		await enqueueAll(trx, facts);
		return results;
	});
}
