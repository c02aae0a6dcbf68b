import { hmacSha256, safeEqual } from "@portal/platform";

/** Where the country is unknown we cannot know the law allows it, so consent is required too. */
export function needsOptIn(country: string | null | undefined, optInCountries: readonly string[]): boolean {
	return !country || optInCountries.includes(country.toUpperCase());
}

/** Why a marketing mail is not sent to someone (the campaign report counts these). */
export type SuppressionReason = "no-consent" | "opted-out" | "unsubscribed" | "topic-off" | "bounced" | "unknown-recipient";

export interface MarketingFacts {
	preference: { marketing_email: boolean; topics: Record<string, boolean>; source: string } | null;
	bounced: boolean;
	known: boolean;
}

/** The one rule for marketing mail (R18, R20), applied at send time; null means it may go out. */
export function marketingBlock(facts: MarketingFacts, productCode?: string): SuppressionReason | null {
	if (!facts.known) return "unknown-recipient";
	if (facts.bounced) return "bounced";
	const pref = facts.preference;
	if (!pref) return "no-consent";
	if (!pref.marketing_email) {
		if (pref.source === "unsubscribe-link") return "unsubscribed";
		if (pref.source === "jurisdiction-default") return "no-consent";
		return "opted-out";
	}
	if (productCode && pref.topics[productCode] === false) return "topic-off";
	return null;
}

/**
 * Unsubscribe tokens (R20): `u1.<accountId>.<issued, unix seconds base 36>.<HMAC>`. The HMAC key is
 * derived from SESSION_SECRET for this purpose only, and covers purpose, account and issue date, so a
 * token cannot be forged, moved to another account, or reused for anything else.
 */
export const UNSUBSCRIBE_TOKEN_DAYS = 400;
const PURPOSE = "communications.unsubscribe";

const keyFor = (secret: string) => hmacSha256(secret, `key:${PURPOSE}`);

export function signUnsubscribeToken(secret: string, accountId: string, issuedAt: Date = new Date()): string {
	const issued = Math.floor(issuedAt.getTime() / 1000).toString(36);
	const mac = hmacSha256(keyFor(secret), `${PURPOSE}|${accountId}|${issued}`);
	return `u1.${accountId}.${issued}.${mac}`;
}

export type TokenCheck = { ok: true; accountId: string; issuedAt: Date } | { ok: false; reason: "invalid" | "expired" };

export function verifyUnsubscribeToken(secret: string, token: string, now: Date = new Date()): TokenCheck {
	const match = /^u1\.([0-9a-f-]{36})\.([0-9a-z]{1,10})\.([0-9a-f]{64})$/.exec(token);
	if (!match) return { ok: false, reason: "invalid" };
	const [, accountId = "", issued = "", mac = ""] = match;
	if (!safeEqual(mac, hmacSha256(keyFor(secret), `${PURPOSE}|${accountId}|${issued}`))) return { ok: false, reason: "invalid" };
	const issuedAt = new Date(Number.parseInt(issued, 36) * 1000);
	const ageMs = now.getTime() - issuedAt.getTime();
	if (ageMs < -5 * 60_000) return { ok: false, reason: "invalid" };
	if (ageMs > UNSUBSCRIBE_TOKEN_DAYS * 86_400_000) return { ok: false, reason: "expired" };
	return { ok: true, accountId, issuedAt };
}
