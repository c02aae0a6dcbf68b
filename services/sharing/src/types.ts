import type { ProfileSection, ShareRole } from "@portal/contracts";

export interface GrantRow {
	id: string;
	owner_id: string;
	grantee_account_id: string | null;
	team_id: string | null;
	role: ShareRole;
	sections: ProfileSection[] | null;
	expires_at: Date | null;
	created_at: Date;
	revoked_at: Date | null;
}

export interface TeamRow {
	id: string;
	owner_id: string;
	name: string;
	created_at: Date;
}

export interface TeamMemberRow {
	team_id: string;
	account_id: string;
	added_at: Date;
}

/** Who a grant goes to, as the owner names them (API.md). */
export type GranteeParam = { username: string } | { email: string } | { teamId: string };

export interface GrantParams {
	grantee: GranteeParam;
	role: ShareRole;
	sections?: ProfileSection[];
	expiresAt?: Date;
}

/** What the owner sees of a grant (GET /shares). */
export interface GrantView {
	id: string;
	grantee:
		| { accountId: string; username: string | null }
		| { teamId: string; name: string | null; members: { accountId: string; username: string | null }[] };
	role: ShareRole;
	sections: ProfileSection[] | null;
	expiresAt: string | null;
	expired: boolean;
	createdAt: string;
}

/** What a grantee sees (GET /shares/received). */
export interface ReceivedView {
	id: string;
	owner: { accountId: string; username: string | null };
	via: { kind: "user" } | { kind: "team"; teamId: string; name: string };
	role: ShareRole;
	sections: ProfileSection[] | null;
	expiresAt: string | null;
}

/** The account facts identity shares with other services (`identity.lookup`). */
export interface AccountSummary {
	id: string;
	username: string;
	email: string;
	kind: "customer" | "staff";
	status: "pending" | "active" | "disabled";
}
