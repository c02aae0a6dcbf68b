/** Purposes a consent can cover (R22). The first four are the policy's "sell, rent, or share". */
export const CONSENT_PURPOSES = ["sale", "rent", "share", "de-identified-share", "marketing-partners", "research"] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];

/** What Global Privacy Control withdraws (R24): every form of sale or sharing. */
export const GPC_PURPOSES: readonly ConsentPurpose[] = ["sale", "rent", "share", "de-identified-share"];

/** Profile sections a consent or disclosure can name. */
export const SECTIONS = ["contact", "identity", "company", "address", "products", "activity"] as const;

export const LEGAL_BASES = ["law", "regulation", "litigation", "national-security", "law-enforcement", "public-importance"] as const;
export type LegalBasis = (typeof LEGAL_BASES)[number];
export type DisclosureBasis = "consent" | LegalBasis;

export interface ConsentRow {
	id: string;
	account_id: string;
	purpose: string;
	recipient: string;
	scope: string[];
	policy_version: string;
	source: string;
	given_at: Date;
	ip: string;
	user_agent: string;
	gpc_at_grant: boolean;
	withdrawn_at: Date | null;
	withdrawn_source: string | null;
	withdrawn_ip: string | null;
	withdrawn_user_agent: string | null;
}

export interface Consent {
	id: string;
	purpose: string;
	recipient: string;
	scope: string[];
	policyVersion: string;
	source: string;
	givenAt: string;
	evidence: { ip: string; userAgent: string };
	withdrawnAt: string | null;
	withdrawnSource: string | null;
}

export interface DisclosureRow {
	id: string;
	account_id: string;
	recipient: string;
	purpose: string;
	sections: string[];
	basis: DisclosureBasis;
	reference: string | null;
	consent_id: string | null;
	approved_by: string | null;
	requested_by: string;
	notify_after: Date | null;
	disclosed_at: Date;
}

export interface DiscloseParams {
	accountId: string;
	recipient: string;
	purpose: string;
	sections: string[];
	basis: DisclosureBasis;
	reference?: string;
	notifyAfter?: string;
}

export interface PrivacyRequestRow {
	id: string;
	account_id: string;
	type: "access";
	status: "received" | "extended" | "completed";
	residency_basis: string;
	received_at: Date;
	due_at: Date;
	extended_at: Date | null;
	extension_reason: string | null;
	completed_at: Date | null;
	download_expires_at: Date | null;
}

export interface InquiryRow {
	id: string;
	account_id: string;
	subject: string;
	message: string;
	status: "open" | "answered";
	created_at: Date;
	answer: string | null;
	answered_by: string | null;
	answered_at: Date | null;
}

export interface AgreementClause {
	topic: string;
	text: string;
}
