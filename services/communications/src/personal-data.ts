import type { PersonalDataDescription } from "@portal/contracts";

/** What communications keeps about a person, why, from where, and for how long (personal-data contract). */
export const personalDataDescription: PersonalDataDescription = {
	service: "communications",
	categories: [
		{
			category: "Contact details for mail",
			fields: ["email", "user name", "given name", "country", "region", "products held"],
			purpose: "Sending service messages and, where allowed, offers about the products you hold.",
			source: "Your purchase of an OMTI product (through the OMTI Customer Portal account service).",
			recipients: ["OMTI's mail relay (SMTP)"],
			retention: "While the account exists.",
			tables: ["communications.recipients", "communications.recipient_products"],
		},
		{
			category: "Communication preferences and their history",
			fields: ["marketing email on/off", "per-product topics", "language", "each change with time, source and request details"],
			purpose: "Sending offers only with your consent or where the law allows it, and proving it.",
			source: "Your country (default), your choices in the portal, one-click unsubscribe.",
			recipients: [],
			retention: "While the account exists; the change history is kept as evidence of consent.",
			tables: ["communications.preferences", "communications.preference_changes"],
		},
		{
			category: "Message log",
			fields: [
				"address",
				"sender",
				"subject",
				"template",
				"kind (service or marketing)",
				"delivery status and times",
				"campaigns and why you were or were not included",
			],
			purpose: "Delivering every mail exactly once and showing what was sent.",
			source: "Mails the portal sent you.",
			recipients: ["OMTI's mail relay (SMTP)"],
			retention: "While the account exists; delivered mail bodies are not kept.",
			tables: ["communications.mails", "communications.campaign_recipients"],
		},
	],
};
