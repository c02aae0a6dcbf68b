import type { CheckParams, ShareRole } from "@portal/contracts";

/**
 * The decision of `sharing.check`, without I/O (R8, R11, R12), so that it can be tested
 * exhaustively. The repository hands over every grant between the owner and the actor, revoked and
 * expired ones included: the rules for what counts as live are here and only here.
 */
export interface CandidateGrant {
	role: ShareRole;
	/** null: the whole profile. */
	sections: readonly string[] | null;
	expiresAt: Date | null;
	revokedAt: Date | null;
	/** A grant to a team counts only while the actor is a member of that team now. */
	via: "user" | "team";
	actorIsMember: boolean;
}

export interface Decision {
	allowed: boolean;
	/**
	 * Until when the decision may be reused (cache): the earliest expiry among the live grants, since
	 * that is the first moment the answer can change without a write. null: until the next write.
	 */
	validUntil: Date | null;
}

const ROLE_PERMITS: Record<ShareRole, readonly CheckParams["permission"][]> = {
	viewer: ["view"],
	editor: ["view", "edit"],
};

export function isLive(grant: CandidateGrant, now: Date): boolean {
	if (grant.revokedAt !== null && grant.revokedAt.getTime() <= now.getTime()) return false;
	if (grant.expiresAt !== null && grant.expiresAt.getTime() <= now.getTime()) return false;
	return grant.via === "user" || grant.actorIsMember;
}

const covers = (grant: CandidateGrant, params: Pick<CheckParams, "section" | "permission">): boolean =>
	ROLE_PERMITS[grant.role].includes(params.permission) && (grant.sections === null || grant.sections.includes(params.section));

/** Owner always; anyone else only through a live grant with a sufficient role on the section. */
export function decide(params: CheckParams, grants: readonly CandidateGrant[], now: Date): Decision {
	if (params.ownerId === params.actorId) return { allowed: true, validUntil: null };
	const live = grants.filter((grant) => isLive(grant, now));
	const expiries = live.flatMap((grant) => (grant.expiresAt ? [grant.expiresAt.getTime()] : []));
	return {
		allowed: live.some((grant) => covers(grant, params)),
		validUntil: expiries.length > 0 ? new Date(Math.min(...expiries)) : null,
	};
}
