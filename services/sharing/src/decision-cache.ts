import type { CheckParams } from "@portal/contracts";
import type { Decision } from "./check";

/**
 * Cache keys of `sharing.check`. They start with the owner's id so that a write cleans exactly
 * that owner's decisions (`sharing.check:<ownerId>:**`, the same glob for the Memory and Redis
 * cachers), and nobody else's.
 */
export const decisionKey = (p: CheckParams): string => `sharing.check:${p.ownerId}:${p.actorId}:${p.section}:${p.permission}`;

export const ownerDecisions = (ownerId: string): string => `sharing.check:${ownerId}:**`;

export const ALL_DECISIONS = "sharing.check:**";

/** How long a decision is kept at most when no grant expiry comes sooner. */
export const DECISION_TTL_SECONDS = 60;

export interface CachedDecision {
	allowed: boolean;
	/** Epoch milliseconds; checked again on every hit, so an expiry is honoured to the millisecond. */
	validUntil: number | null;
}

/** Seconds the decision may be cached: never past the earliest expiry; 0 means do not cache. */
export function ttlFor(decision: Decision, now: number): number {
	if (decision.validUntil === null) return DECISION_TTL_SECONDS;
	return Math.max(0, Math.min(DECISION_TTL_SECONDS, Math.floor((decision.validUntil.getTime() - now) / 1000)));
}

export const isFresh = (entry: CachedDecision | null | undefined, now: number): entry is CachedDecision =>
	entry != null && typeof entry.allowed === "boolean" && (entry.validUntil === null || entry.validUntil > now);
