/**
 * The personal-data contract (ARCHITECTURE rule 7): every service that stores personal data answers
 * `<service>.personalData` with `op: "describe"` or `op: "export"`. Compliance discovers the services
 * through the registry, so a new service is part of the CCPA inventory without touching compliance.
 */
export interface PersonalDataCategory {
	category: string;
	fields: string[];
	purpose: string;
	source: string;
	recipients: string[];
	retention: string;
	/** Tables holding this category; a test proves every `account_id` table is listed somewhere. */
	tables: string[];
}

export interface PersonalDataDescription {
	service: string;
	categories: PersonalDataCategory[];
}

export interface PersonalDataExport {
	service: string;
	records: Record<string, unknown[]>;
}

export type PersonalDataParams = { op: "describe" } | { op: "export"; accountId: string };
