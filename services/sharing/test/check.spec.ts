import { PROFILE_SECTIONS, type ProfileSection, type SharePermission } from "@portal/contracts";
import { type CandidateGrant, decide } from "../src/check";

/**
 * R8, R11, R12: the decision table of `sharing.check`, exhaustively: every kind of actor ×
 * permission × section (granted, not granted, whole profile), computed by an independent reading
 * of the rules rather than by calling helpers of the implementation.
 */
const OWNER = "00000000-0000-4000-8000-000000000001";
const ACTOR = "00000000-0000-4000-8000-000000000002";
const NOW = new Date("2026-11-25T12:00:00Z");
const PAST = new Date("2026-11-25T11:59:59Z");
const FUTURE = new Date("2026-11-26T12:00:00Z");

type Kind =
	| "owner"
	| "stranger"
	| "viewer"
	| "editor"
	| "expired viewer"
	| "expired editor"
	| "revoked viewer"
	| "revoked editor"
	| "team member viewer"
	| "team member editor"
	| "removed member viewer"
	| "removed member editor"
	| "viewer until later"
	| "editor on another owner's team only";

const KINDS: Kind[] = [
	"owner",
	"stranger",
	"viewer",
	"editor",
	"expired viewer",
	"expired editor",
	"revoked viewer",
	"revoked editor",
	"team member viewer",
	"team member editor",
	"removed member viewer",
	"removed member editor",
	"viewer until later",
	"editor on another owner's team only",
];
type Scope = "whole profile" | "granted section" | "other section";
const SCOPES: Scope[] = ["whole profile", "granted section", "other section"];
const PERMISSIONS: SharePermission[] = ["view", "edit"];

function grantsFor(kind: Kind, sections: readonly string[] | null): CandidateGrant[] {
	const base = { sections, expiresAt: null, revokedAt: null, via: "user" as const, actorIsMember: false };
	switch (kind) {
		case "owner":
		case "stranger":
			return [];
		case "viewer":
			return [{ ...base, role: "viewer" }];
		case "editor":
			return [{ ...base, role: "editor" }];
		case "expired viewer":
			return [{ ...base, role: "viewer", expiresAt: PAST }];
		case "expired editor":
			return [{ ...base, role: "editor", expiresAt: PAST }];
		case "revoked viewer":
			return [{ ...base, role: "viewer", revokedAt: PAST }];
		case "revoked editor":
			return [{ ...base, role: "editor", revokedAt: PAST }];
		case "team member viewer":
			return [{ ...base, role: "viewer", via: "team", actorIsMember: true }];
		case "team member editor":
			return [{ ...base, role: "editor", via: "team", actorIsMember: true }];
		case "removed member viewer":
			return [{ ...base, role: "viewer", via: "team", actorIsMember: false }];
		case "removed member editor":
			return [{ ...base, role: "editor", via: "team", actorIsMember: false }];
		case "viewer until later":
			return [{ ...base, role: "viewer", expiresAt: FUTURE }];
		case "editor on another owner's team only":
			// The repository only hands over the owner's grants: a team the actor is not in is all there is.
			return [{ ...base, role: "editor", via: "team", actorIsMember: false }];
	}
}

/** The expected answer, written out as the policy says it. */
function expected(kind: Kind, scope: Scope, permission: SharePermission): boolean {
	if (kind === "owner") return true;
	if (scope === "other section") return false;
	switch (kind) {
		case "viewer":
		case "team member viewer":
		case "viewer until later":
			return permission === "view";
		case "editor":
		case "team member editor":
			return true;
		default:
			return false;
	}
}

describe("sharing.check decision table", () => {
	const rows: [Kind, Scope, SharePermission, ProfileSection][] = [];
	for (const kind of KINDS)
		for (const scope of SCOPES)
			for (const permission of PERMISSIONS) for (const section of PROFILE_SECTIONS) rows.push([kind, scope, permission, section]);

	it.each(rows)("R8/R11: %s, %s, %s on %s", (kind, scope, permission, section) => {
		const other = PROFILE_SECTIONS.find((s) => s !== section) as ProfileSection;
		const sections = scope === "whole profile" ? null : scope === "granted section" ? [section] : [other];
		const actorId = kind === "owner" ? OWNER : ACTOR;
		const decision = decide({ ownerId: OWNER, actorId, section, permission }, grantsFor(kind, sections), NOW);
		expect(decision.allowed).toBe(expected(kind, scope, permission));
	});

	it("R12: a grant is dead at its expiry instant, not a millisecond later", () => {
		const grant: CandidateGrant = { role: "viewer", sections: null, expiresAt: NOW, revokedAt: null, via: "user", actorIsMember: false };
		const params = { ownerId: OWNER, actorId: ACTOR, section: "name" as const, permission: "view" as const };
		expect(decide(params, [grant], new Date(NOW.getTime() - 1)).allowed).toBe(true);
		expect(decide(params, [grant], NOW).allowed).toBe(false);
	});

	it("R12: a decision may be reused only until the earliest expiry among live grants", () => {
		const soon = new Date(NOW.getTime() + 5_000);
		const grants: CandidateGrant[] = [
			{ role: "editor", sections: null, expiresAt: FUTURE, revokedAt: null, via: "user", actorIsMember: false },
			{ role: "viewer", sections: ["name"], expiresAt: soon, revokedAt: null, via: "user", actorIsMember: false },
			{ role: "viewer", sections: null, expiresAt: PAST, revokedAt: null, via: "user", actorIsMember: false },
		];
		const decision = decide({ ownerId: OWNER, actorId: ACTOR, section: "name", permission: "view" }, grants, NOW);
		expect(decision).toEqual({ allowed: true, validUntil: soon });
		expect(decide({ ownerId: OWNER, actorId: ACTOR, section: "name", permission: "view" }, [], NOW).validUntil).toBeNull();
	});

	it("R11: any one sufficient live grant among several is enough; an insufficient one adds nothing", () => {
		const viewerOnName: CandidateGrant = {
			role: "viewer",
			sections: ["name"],
			expiresAt: null,
			revokedAt: null,
			via: "user",
			actorIsMember: false,
		};
		const editorOnAddressViaTeam: CandidateGrant = {
			...viewerOnName,
			role: "editor",
			sections: ["address"],
			via: "team",
			actorIsMember: true,
		};
		const check = (section: ProfileSection, permission: SharePermission) =>
			decide({ ownerId: OWNER, actorId: ACTOR, section, permission }, [viewerOnName, editorOnAddressViaTeam], NOW).allowed;
		expect([check("name", "view"), check("name", "edit"), check("address", "edit"), check("contact", "view")]).toEqual([
			true,
			false,
			true,
			false,
		]);
	});
});
