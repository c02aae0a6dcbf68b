import type { PersonalDataDescription, PersonalDataExport } from "@portal/contracts";
import type { Knex } from "@portal/platform";

/**
 * The personal-data contract (ARCHITECTURE rule 7). Every identity table with an `account_id` is
 * listed; exports name columns explicitly so that a hash, secret or token can never slip in.
 */
export const identityPersonalData: PersonalDataDescription = {
	service: "identity",
	categories: [
		{
			category: "Account identifiers",
			fields: [
				"user name",
				"email address",
				"account kind",
				"staff roles",
				"status",
				"creation, activation and password-change times",
				"whether a second factor is on",
			],
			purpose: "To give you an account, sign you in and contact you about it.",
			source: "OMTI's order systems when you bought a product; you (activation, password).",
			recipients: ["OMTI"],
			retention: "While the account exists.",
			tables: ["identity.accounts"],
		},
		{
			category: "Products and purchases",
			fields: ["product code and name", "order number", "purchase time"],
			purpose: "To show which products your account covers.",
			source: "OMTI's order systems.",
			recipients: ["OMTI"],
			retention: "While the account exists.",
			tables: ["identity.account_products", "identity.purchase_events"],
		},
		{
			category: "Sessions and sign-in security",
			fields: [
				"session start, last use, expiry and end",
				"browser (user agent)",
				"network address",
				"re-authentication time",
				"mailed links issued and used",
				"recovery codes issued and used (never the codes)",
			],
			purpose: "To keep you signed in, let you see and end your sessions, and protect the account.",
			source: "Your browser when you sign in and use the portal.",
			recipients: ["OMTI"],
			retention: "Sessions: while the account exists; links and recovery codes: until replaced.",
			tables: ["identity.sessions", "identity.tokens", "identity.recovery_codes"],
		},
	],
};

export async function exportIdentityData(db: Knex, accountId: string): Promise<PersonalDataExport> {
	const [accounts, products, purchaseEvents, sessions, links, recoveryCodes] = await Promise.all([
		db("identity.accounts")
			.where({ id: accountId })
			.select("id", "username", "email", "kind", "roles", "status", "created_at", "activated_at", "password_changed_at", "totp_enabled_at"),
		db("identity.account_products").where({ account_id: accountId }).select("product_code", "product_name", "order_id", "since"),
		db("identity.purchase_events")
			.where({ account_id: accountId })
			.select("event_id", "order_id", "product_code", "occurred_at", "received_at", "source"),
		db("identity.sessions")
			.where({ account_id: accountId })
			.select("id", "created_at", "last_used_at", "expires_at", "revoked_at", "reauthenticated_at", "user_agent", "ip")
			.orderBy("created_at"),
		db("identity.tokens").where({ account_id: accountId }).select("purpose", "created_at", "expires_at", "used_at").orderBy("created_at"),
		db("identity.recovery_codes").where({ account_id: accountId }).select("created_at", "used_at"),
	]);
	return {
		service: "identity",
		records: { accounts, products, purchaseEvents, sessions, links, recoveryCodes },
	};
}
