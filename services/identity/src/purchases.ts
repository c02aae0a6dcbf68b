import { type AccountCreatedMessage, Channels, type ProductAddedMessage, type PurchaseEvent, purchaseEventSchema } from "@portal/contracts";
import { type FieldError, type Knex, outboxRow } from "@portal/platform";
import Validator from "fastest-validator";
import { dropRacedAccount, normalizeEmail, type PurchaseToRecord, type RecordedPurchase, recordPurchaseGroup } from "./accounts.repo";
import { newSingleUseToken } from "./tokens.repo";
import { usernameCandidates } from "./usernames";

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

export interface ReceivedPurchase {
	event: PurchaseEvent;
	source: "channel" | "webhook";
}

export interface PurchaseResult {
	outcome: PurchaseOutcome;
	accountId: string;
}

type AccountFields = "messageId" | "occurredAt" | "accountId" | "username" | "email";

/** The facts a purchase may report to communications and compliance: which one is decided by the database. */
function factsOf(event: PurchaseEvent, activation: { token: string; expiresAt: Date }): PurchaseToRecord["facts"] {
	const product = { code: event.product.code.toUpperCase(), name: event.product.name };
	const created: Omit<AccountCreatedMessage, AccountFields> = {
		givenName: event.customer.givenName,
		familyName: event.customer.familyName,
		company: event.customer.company,
		country: event.customer.country,
		region: event.customer.region,
		product,
		activationToken: activation.token,
		activationExpiresAt: activation.expiresAt.toISOString(),
	};
	const added: Omit<ProductAddedMessage, AccountFields> = { product };
	return { accountCreated: outboxRow(Channels.accountCreated, created), productAdded: outboxRow(Channels.productAdded, added) };
}

function outcomeOf({ account, created, fresh, productIsNew }: RecordedPurchase): PurchaseResult {
	const outcome = !fresh ? "duplicate" : created ? "account-created" : productIsNew ? "product-added" : "already-owned";
	return { outcome, accountId: account.id };
}

/**
 * R1/R2: one account per person (email compared without case), one effect per `eventId`. A group of
 * purchases is recorded by one statement (account, product, activation token and the fact for
 * communications together: a crash leaves all of it or none, and the event is redelivered); what it
 * cannot decide is recorded one purchase at a time, trying the email's next user names.
 */
export async function recordPurchases(
	db: Knex,
	purchases: readonly ReceivedPurchase[],
	activationTtlMs: number,
): Promise<PurchaseResult[]> {
	const prepared = purchases.map((p) => {
		const activation = newSingleUseToken(activationTtlMs);
		return { ...p, activation, facts: factsOf(p.event, activation) };
	});
	const decided = await recordPurchaseGroup(db, prepared);
	const results: PurchaseResult[] = [];
	for (const [i, purchase] of prepared.entries()) {
		const recorded = decided[i] ?? (await recordOnePurchase(db, purchase));
		if (recorded.created && !recorded.fresh) await dropRacedAccount(db, recorded.account.id);
		results.push(outcomeOf(recorded));
	}
	return results;
}

async function recordOnePurchase(db: Knex, purchase: PurchaseToRecord): Promise<RecordedPurchase> {
	for (const username of usernameCandidates(normalizeEmail(purchase.event.customer.email))) {
		const [recorded] = await recordPurchaseGroup(db, [{ ...purchase, username }]);
		if (recorded) return recorded;
	}
	throw new Error("unreachable: username candidates are infinite");
}
