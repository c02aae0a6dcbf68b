import type { ProfileSection } from "@portal/contracts";
import type { FieldError } from "@portal/platform";
import countries from "i18n-iso-countries";
import { parsePhoneNumberFromString } from "libphonenumber-js";

/**
 * The profile's fields by section (R9): API name, column, and the check beyond the shape that
 * fastest-validator already enforced. Every check returns the stored (normalized) value or a message.
 */
export interface FieldSpec {
	section: ProfileSection;
	name: string;
	column: string;
	max: number;
	normalize?: (value: string, draft: Record<string, string | null>) => { value: string } | { error: string };
}

const TIME_ZONES = new Set(Intl.supportedValuesOf("timeZone").concat("UTC"));

/** Postal codes for the countries most OMTI customers live in; other countries take any short code. */
const POSTAL_CODES: Record<string, RegExp> = {
	US: /^\d{5}(-\d{4})?$/,
	CA: /^[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d$/,
	GB: /^[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}$/,
	DE: /^\d{5}$/,
	FR: /^\d{5}$/,
	IT: /^\d{5}$/,
	ES: /^\d{5}$/,
	NL: /^\d{4} ?[A-Za-z]{2}$/,
	AU: /^\d{4}$/,
	JP: /^\d{3}-?\d{4}$/,
	IN: /^\d{6}$/,
	MX: /^\d{5}$/,
	BR: /^\d{5}-?\d{3}$/,
};

export const FIELDS: readonly FieldSpec[] = [
	{ section: "name", name: "givenName", column: "given_name", max: 100 },
	{ section: "name", name: "familyName", column: "family_name", max: 100 },
	{ section: "contact", name: "email", column: "email", max: 254 },
	{
		section: "contact",
		name: "phone",
		column: "phone",
		max: 40,
		normalize(value) {
			const phone = parsePhoneNumberFromString(value);
			return phone?.isValid() && value.trim().startsWith("+")
				? { value: phone.number }
				: { error: "Use the international E.164 format, for example +1 415 555 0100." };
		},
	},
	{ section: "address", name: "street", column: "street", max: 200 },
	{ section: "address", name: "city", column: "city", max: 100 },
	{ section: "address", name: "region", column: "region", max: 100 },
	{
		section: "address",
		name: "postalCode",
		column: "postal_code",
		max: 20,
		normalize(value, draft) {
			const pattern = draft.country ? POSTAL_CODES[draft.country] : undefined;
			if (pattern && !pattern.test(value))
				return { error: `Not a postal code of ${countries.getName(draft.country ?? "", "en") ?? draft.country}.` };
			return { value: value.toUpperCase() };
		},
	},
	{
		section: "address",
		name: "country",
		column: "country",
		max: 2,
		normalize(value) {
			const code = value.toUpperCase();
			return /^[A-Z]{2}$/.test(code) && countries.isValid(code)
				? { value: code }
				: { error: "Use an ISO 3166-1 alpha-2 country code, for example US." };
		},
	},
	{ section: "employment", name: "company", column: "company", max: 200 },
	{ section: "employment", name: "jobTitle", column: "job_title", max: 200 },
	{
		section: "preferences",
		name: "locale",
		column: "locale",
		max: 35,
		normalize(value) {
			try {
				const [canonical] = Intl.getCanonicalLocales(value);
				return canonical ? { value: canonical } : { error: "Not a language tag." };
			} catch {
				return { error: "Use a BCP 47 language tag, for example en-US." };
			}
		},
	},
	{
		section: "preferences",
		name: "timeZone",
		column: "time_zone",
		max: 64,
		normalize: (value) => (TIME_ZONES.has(value) ? { value } : { error: "Use an IANA time zone, for example America/New_York." }),
	},
];

export const fieldsOf = (section: ProfileSection): FieldSpec[] => FIELDS.filter((f) => f.section === section);

/** A PATCH body: sections with the fields to set; null clears a field. */
export type ProfilePatch = Partial<Record<ProfileSection, Record<string, string | null>>>;

/**
 * Validates and normalizes a patch against the current values (the postal code is checked against
 * the country the profile will have). Returns the column changes or every field's problem.
 */
export function normalizePatch(
	patch: ProfilePatch,
	current: Record<string, string | null>,
): { changes: Record<string, string | null> } | { errors: FieldError[] } {
	const draft: Record<string, string | null> = {};
	for (const f of FIELDS) draft[f.name] = current[f.column] ?? null;
	const country = patch.address?.country;
	if (typeof country === "string") draft.country = country.toUpperCase();
	else if (country === null) draft.country = null;

	const errors: FieldError[] = [];
	const changes: Record<string, string | null> = {};
	for (const [section, values] of Object.entries(patch) as [ProfileSection, Record<string, string | null>][]) {
		for (const [name, raw] of Object.entries(values ?? {})) {
			const spec = FIELDS.find((f) => f.section === section && f.name === name);
			if (!spec || raw === undefined) continue;
			if (raw === null || raw === "") {
				changes[spec.column] = null;
				continue;
			}
			const checked = spec.normalize ? spec.normalize(raw, draft) : { value: raw };
			if ("error" in checked) errors.push({ field: `${section}.${name}`, message: checked.error });
			else changes[spec.column] = checked.value;
		}
	}
	return errors.length > 0 ? { errors } : { changes };
}

/** fastest-validator params for a PATCH body: strict sections, strict fields, strings or null. */
export function patchParams(): Record<string, unknown> {
	const sections: Record<string, unknown> = {};
	for (const f of FIELDS) {
		if (!sections[f.section]) sections[f.section] = { type: "object", optional: true, strict: true, minProps: 1, props: {} };
		const section = sections[f.section] as { props: Record<string, unknown> };
		section.props[f.name] =
			f.name === "email"
				? { type: "email", optional: true, nullable: false, max: f.max }
				: { type: "string", optional: true, nullable: true, trim: true, max: f.max };
	}
	return sections;
}
