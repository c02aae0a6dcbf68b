import { type AccountCreatedMessage, Channels, type ProductAddedMessage, type PurchaseEvent, purchaseEventSchema } from "@portal/contracts";
import type { FieldError, Knex } from "@portal/platform";
import Validator from "fastest-validator";
import { recordPurchaseEvent } from "./accounts.repo";
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

interface Enqueue {
	(
		trx: Knex.Transaction,
		channel: typeof Channels.accountCreated,
		message: Omit<AccountCreatedMessage, "messageId" | "occurredAt">,
	): Promise<string>;
	(
		trx: Knex.Transaction,
		channel: typeof Channels.productAdded,
		message: Omit<ProductAddedMessage, "messageId" | "occurredAt">,
	): Promise<string>;
}

/**
 * R1/R2: one account per person (email compared without case), one effect per `eventId`. The
 * account, its product, the activation token and the fact for communications are written in one
 * transaction, so a crash leaves either all of it or none of it (and the event is redelivered).
 */
export async function recordPurchase(
	db: Knex,
	enqueue: Enqueue,
	event: PurchaseEvent,
	source: "channel" | "webhook",
	activationTtlMs: number,
): Promise<{ outcome: PurchaseOutcome; accountId?: string }> {
	return db
		.transaction(async (trx) => {
			const activation = newSingleUseToken(activationTtlMs);
			const { account, created, fresh, productIsNew } = await recordPurchaseEvent(trx, event, source, activation);
			if (!fresh) {
				// Seen before: undo the (possibly just created) account by rolling back.
				throw new DuplicateEvent(account.id);
			}
			const product = { code: event.product.code.toUpperCase(), name: event.product.name };
			if (created) {
				await enqueue(trx, Channels.accountCreated, {
					accountId: account.id,
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
				});
				return { outcome: "account-created" as const, accountId: account.id };
			}
			if (productIsNew) {
				await enqueue(trx, Channels.productAdded, { accountId: account.id, username: account.username, email: account.email, product });
				return { outcome: "product-added" as const, accountId: account.id };
			}
			return { outcome: "already-owned" as const, accountId: account.id };
		})
		.catch((err: unknown) => {
			if (err instanceof DuplicateEvent) return { outcome: "duplicate" as const, accountId: err.accountId };
			throw err;
		});
}

class DuplicateEvent extends Error {
	constructor(readonly accountId: string) {
		super("duplicate purchase event");
	}
}
