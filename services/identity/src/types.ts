import type { StaffRole } from "@portal/contracts";

export interface AccountRow {
	id: string;
	username: string;
	email: string;
	email_normalized: string;
	kind: "customer" | "staff";
	roles: StaffRole[];
	status: "pending" | "active" | "disabled";
	password_hash: string | null;
	created_at: Date;
	activated_at: Date | null;
	password_changed_at: Date | null;
	/** Base32 TOTP secret once enrolment is confirmed; never leaves identity (not even in exports). */
	totp_secret: string | null;
	/** Secret shown during enrolment, until the first code confirms it. */
	totp_pending_secret: string | null;
	totp_enabled_at: Date | null;
	/** The last TOTP time step accepted, so a code cannot be replayed within its window. */
	totp_last_step: string | number | null;
}

export interface SessionRow {
	id: string;
	account_id: string;
	token_hash: string;
	created_at: Date;
	last_used_at: Date;
	expires_at: Date;
	user_agent: string;
	ip: string;
	revoked_at: Date | null;
	reauthenticated_at: Date | null;
}

export interface TokenRow {
	id: string;
	account_id: string;
	purpose: "activation" | "password_reset";
	token_hash: string;
	created_at: Date;
	expires_at: Date;
	used_at: Date | null;
}

/** What `GET /api/v1/me` answers (API.md). */
export interface Me {
	id: string;
	username: string;
	email: string;
	status: AccountRow["status"];
	products: { code: string; name: string; since: string }[];
	roles: StaffRole[];
	mfa: boolean;
}

/** One row of `GET /api/v1/auth/sessions`. */
export interface SessionView {
	id: string;
	createdAt: string;
	lastUsedAt: string;
	expiresAt: string;
	userAgent: string;
	ip: string;
	current: boolean;
}

export interface SignInParams {
	login: string;
	password: string;
	totp?: string;
}

export interface ActivateParams {
	token: string;
	password: string;
}

/** What other services may know about an account (`identity.lookup`). */
export type AccountSummary = Pick<AccountRow, "id" | "username" | "email" | "kind" | "status">;
