/**
 * Sharing's decision point (R11, R12): `sharing.check` is the one place that says whether someone
 * other than the owner may view or edit a section of the owner's profile. Callers fail closed: an
 * error or a timeout means "denied".
 */
export const PROFILE_SECTIONS = ["name", "contact", "address", "employment", "preferences"] as const;
export type ProfileSection = (typeof PROFILE_SECTIONS)[number];

export type SharePermission = "view" | "edit";
export type ShareRole = "viewer" | "editor";

export interface CheckParams {
	ownerId: string;
	actorId: string;
	section: ProfileSection;
	permission: SharePermission;
}

export interface CheckResult {
	allowed: boolean;
}

/** A plain event (may be lost): other nodes drop their memory-cached decisions for this owner. */
export const SHARING_CACHE_CLEAN_EVENT = "sharing.cache.clean";
