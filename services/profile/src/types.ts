import type { ProfileSection } from "@portal/contracts";

export interface ProfileRow {
	account_id: string;
	given_name: string | null;
	family_name: string | null;
	email: string | null;
	phone: string | null;
	street: string | null;
	city: string | null;
	region: string | null;
	postal_code: string | null;
	country: string | null;
	company: string | null;
	job_title: string | null;
	locale: string | null;
	time_zone: string | null;
	version: number;
	created_at: Date;
	updated_at: Date;
}

/** One field's change inside a revision (R9: what, old → new). */
export interface FieldChange {
	field: string;
	old: string | null;
	new: string | null;
}

export interface RevisionRow {
	id: string;
	account_id: string;
	version: number;
	actor_kind: string;
	actor_id: string;
	at: Date;
	changes: FieldChange[];
	ip: string | null;
	user_agent: string | null;
}

/** Who made a change and from where, as a revision records it. */
export interface ChangeAuthor {
	kind: string;
	id: string;
	ip: string | null;
	userAgent: string | null;
}

/** The profile as the API shows it: only the sections the reader may see (R11). */
export interface ProfileView {
	accountId: string;
	version: number;
	updatedAt: string;
	sections: ProfileSection[];
	name?: { givenName: string | null; familyName: string | null };
	contact?: { email: string | null; phone: string | null; pendingEmail?: string | null };
	address?: { street: string | null; city: string | null; region: string | null; postalCode: string | null; country: string | null };
	employment?: { company: string | null; jobTitle: string | null };
	preferences?: { locale: string | null; timeZone: string | null };
}

export interface RevisionView {
	id: string;
	version: number;
	at: string;
	by: { kind: string; id: string };
	ip: string | null;
	userAgent: string | null;
	changes: FieldChange[];
}

export interface LedgerView {
	id: string;
	at: string;
	actor: { accountId: string; username: string | null };
	action: "read" | "edit";
	sections: ProfileSection[];
	ip: string | null;
}
