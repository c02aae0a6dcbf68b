import type { ProfileView } from "./types";

/**
 * The owner's own profile view, the portal's most frequent read, cached per account in the
 * broker's cacher (Redis in production). Every write to the profile or its pending email change
 * drops the entry after it commits; `remember` closes the race with a read computed before that.
 */
export const ownerViewKey = (accountId: string): string => `profile.owner:${accountId}`;

export const ALL_OWNER_VIEWS = "profile.owner:*";

/** Broadcast after a write, for nodes whose cacher is their own memory. */
export const OWNER_VIEW_CHANGED_EVENT = "profile.ownerViewChanged";

/** A bound on staleness should an invalidation ever be missed; writes drop entries at once. */
export const OWNER_VIEW_TTL_SECONDS = 60;

export interface CachedOwnerView {
	view: ProfileView;
	/** Epoch milliseconds when the pending email's link expires and the view changes by itself. */
	validUntil: number | null;
}

/** Seconds the view may be cached: never past its pending email's expiry; 0 means do not cache. */
export const ttlFor = (validUntil: number | null, now: number): number =>
	validUntil === null ? OWNER_VIEW_TTL_SECONDS : Math.max(0, Math.min(OWNER_VIEW_TTL_SECONDS, Math.floor((validUntil - now) / 1000)));

export const isFresh = (entry: CachedOwnerView | null | undefined, now: number): entry is CachedOwnerView =>
	entry != null && typeof entry.view === "object" && (entry.validUntil === null || entry.validUntil > now);
