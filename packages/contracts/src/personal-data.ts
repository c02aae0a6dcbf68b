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

/**
 * Paging of `export` (optional, for services with large histories). The first call is always
 * `{ op: "export", accountId }`, exactly as above, so a service that does not page keeps working: it
 * answers everything at once without `nextCursor`. A service that pages answers one page (its own page
 * size) and sets `nextCursor`, an opaque string; the caller then asks again with
 * `{ op: "export", accountId, cursor }` until an answer has no `nextCursor`. Pages of one service may
 * repeat a key of `records`; the caller concatenates them in order. Compliance streams the pages into
 * the CCPA inventory without holding them all (R26).
 */
export interface PersonalDataExportPageParams {
	op: "export";
	accountId: string;
	cursor: string;
}

export interface PersonalDataExportPage extends PersonalDataExport {
	nextCursor?: string;
}
