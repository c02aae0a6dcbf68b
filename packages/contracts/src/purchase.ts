import type { ValidationSchema } from "fastest-validator";

/** The purchase event other OMTI systems publish (API.md). Unknown fields are ignored. */
export interface PurchaseEvent {
	eventId: string;
	occurredAt: string;
	orderId: string;
	product: { code: string; name: string };
	customer: {
		email: string;
		givenName?: string;
		familyName?: string;
		company?: string;
		country?: string;
		region?: string;
	};
}

const text = (max: number, optional = false) => ({ type: "string", trim: true, min: 1, max, optional }) as const;

export const purchaseEventSchema: ValidationSchema<PurchaseEvent> = {
	$$strict: "remove",
	eventId: { type: "string", min: 1, max: 200, trim: true },
	occurredAt: { type: "date", convert: true },
	orderId: text(200),
	product: {
		type: "object",
		strict: "remove",
		props: {
			code: { type: "string", trim: true, pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/ },
			name: text(200),
		},
	},
	customer: {
		type: "object",
		strict: "remove",
		props: {
			email: { type: "email", max: 254, normalize: true },
			givenName: text(100, true),
			familyName: text(100, true),
			company: text(200, true),
			country: { type: "string", pattern: /^[A-Za-z]{2}$/, optional: true },
			region: { type: "string", max: 10, optional: true },
		},
	},
};
