/**
 * What the action param schemas cannot say about a route: its summary, success status and answer
 * shape, as API.md promises them. Keys are "METHOD /full/path" with `{param}` placeholders. A route
 * missing here is still documented (from its action's params) with a generic JSON answer.
 */
export type JsonSchema = Record<string, unknown>;

export interface RouteContract {
	summary: string;
	status?: number;
	response?: JsonSchema;
	/** Error statuses worth naming besides the ones every route can give. */
	errors?: number[];
}

const uuid = { type: "string", format: "uuid" };
const dateTime = { type: "string", format: "date-time" };
const obj = (properties: Record<string, JsonSchema>, required = Object.keys(properties)): JsonSchema => ({
	type: "object",
	properties,
	required,
});
const list = (items: JsonSchema): JsonSchema => ({ type: "array", items });

export const meSchema = obj({
	id: uuid,
	username: { type: "string" },
	email: { type: "string", format: "email" },
	status: { enum: ["pending", "active", "disabled"] },
	products: list(obj({ code: { type: "string" }, name: { type: "string" }, since: dateTime }, ["code", "since"])),
	roles: list({ type: "string" }),
	mfa: { type: "boolean" },
});

const signedIn = obj({ account: meSchema, token: { type: "string" } });
const counts = obj({ total: { type: "integer" }, last30Days: { type: "integer" } });
const privacyRequest = obj({ id: uuid, type: { type: "string" }, status: { type: "string" }, receivedAt: dateTime, dueAt: dateTime }, [
	"id",
	"status",
	"receivedAt",
	"dueAt",
]);

export const routeContracts: Record<string, RouteContract> = {
	"POST /api/v1/hooks/purchases": {
		summary: "Purchase event from another OMTI system (HMAC-signed body); a duplicate is accepted too.",
		status: 202,
		response: obj({ accepted: { const: true }, outcome: { type: "string" } }),
		errors: [400, 401],
	},
	"POST /api/v1/auth/activate": {
		summary: "Choose a password with the mailed activation token; starts a session.",
		response: signedIn,
		errors: [400, 410],
	},
	"POST /api/v1/auth/sign-in": {
		summary: "Sign in with user name or email and password (and TOTP code when enabled); starts a session.",
		response: signedIn,
		errors: [429],
	},
	"POST /api/v1/auth/sign-out": { summary: "End this session everywhere.", status: 204 },
	"GET /api/v1/me": { summary: "The signed-in account: products, roles, second factor.", response: meSchema },
	"POST /api/v1/auth/password": { summary: "Change the password; every other session ends.", status: 204 },
	"POST /api/v1/auth/password-reset": { summary: "Mail a reset link (answers the same whether or not the email exists).", status: 202 },
	"POST /api/v1/auth/password-reset/confirm": { summary: "Set a new password with the mailed reset token.", status: 204, errors: [410] },
	"GET /api/v1/auth/sessions": { summary: "My sessions with device and last use.", response: list({ type: "object" }) },
	"DELETE /api/v1/auth/sessions/{id}": { summary: "Revoke one of my sessions.", status: 204 },
	"DELETE /api/v1/auth/sessions": { summary: "Revoke all my other sessions.", status: 204 },
	"POST /api/v1/auth/totp": { summary: "Start enrolling a TOTP second factor (secret and otpauth URI)." },
	"POST /api/v1/auth/totp/confirm": { summary: "Confirm the second factor with a first code.", status: 204 },
	"DELETE /api/v1/auth/totp": { summary: "Remove the second factor.", status: 204 },
	"GET /api/v1/profiles/me": { summary: "My personal information (the ETag header is for If-Match)." },
	"PATCH /api/v1/profiles/me": { summary: "Change my personal information; send If-Match with the ETag.", errors: [409, 412, 428] },
	"GET /api/v1/profiles/me/revisions": { summary: "The history of changes to my information.", response: list({ type: "object" }) },
	"GET /api/v1/profiles/{accountId}": { summary: "Another account's information: only the sections shared with me." },
	"PATCH /api/v1/profiles/{accountId}": { summary: "Edit another account's information within an editor grant.", errors: [412, 428] },
	"GET /api/v1/shares": { summary: "The grants I have made.", response: list({ type: "object" }) },
	"POST /api/v1/shares": { summary: "Share my information with a user or team, as viewer or editor.", status: 201 },
	"DELETE /api/v1/shares/{id}": { summary: "Revoke a grant; effective on the very next request.", status: 204 },
	"GET /api/v1/shares/received": { summary: "What others share with me.", response: list({ type: "object" }) },
	"GET /api/v1/shares/ledger": { summary: "Every read or edit of my information by someone else.", response: list({ type: "object" }) },
	"POST /api/v1/teams": { summary: "Create a team.", status: 201 },
	"GET /api/v1/teams": { summary: "The teams I own or belong to.", response: list({ type: "object" }) },
	"POST /api/v1/teams/{id}/members": { summary: "Add a member to a team I own.", status: 201 },
	"DELETE /api/v1/teams/{id}/members/{accountId}": { summary: "Remove a member from a team I own.", status: 204 },
	"POST /api/v1/activity/clicks": { summary: "Record a link click.", status: 204 },
	"GET /api/v1/activity/me": {
		summary: "My counts of sign-ins and link clicks and my recent activity.",
		response: obj({ signIns: counts, linkClicks: counts, retentionDays: { type: "integer" }, recent: list({ type: "object" }) }, [
			"signIns",
			"linkClicks",
			"retentionDays",
			"recent",
		]),
	},
	"GET /api/v1/activity/me/audit": { summary: "My audit trail with its hash chain." },
	"GET /api/v1/preferences/communications": {
		summary: "My communication preferences.",
		response: obj({ marketing: obj({ email: { type: "boolean" } }), topics: { type: "object" }, serviceMessages: { const: "always" } }, [
			"marketing",
			"serviceMessages",
		]),
	},
	"PUT /api/v1/preferences/communications": { summary: "Change my communication preferences." },
	"GET /api/v1/unsubscribe": { summary: "The one-click unsubscribe page of a marketing mail.", errors: [410] },
	"POST /api/v1/unsubscribe": { summary: "One-click unsubscribe (RFC 8058).", errors: [410] },
	"GET /api/v1/privacy/consents": { summary: "My consents (withdrawnAt is null while active).", response: list({ type: "object" }) },
	"POST /api/v1/privacy/consents": { summary: "Give a consent for a purpose, recipient and scope.", status: 201 },
	"DELETE /api/v1/privacy/consents/{id}": { summary: "Withdraw a consent." },
	"GET /api/v1/privacy/disclosures": {
		summary: "Disclosures about me (delayed ones hidden until due).",
		response: list({ type: "object" }),
	},
	"POST /api/v1/privacy/requests": {
		summary: "Request an inventory of my personal information (at most 2 per 12 months).",
		status: 202,
		response: privacyRequest,
		errors: [429],
	},
	"GET /api/v1/privacy/requests": { summary: "My privacy requests and their status.", response: list(privacyRequest) },
	"GET /api/v1/privacy/requests/{id}": { summary: "One privacy request.", response: privacyRequest },
	"GET /api/v1/privacy/requests/{id}/download": { summary: "The inventory as JSON or HTML (needs a recent sign-in).", errors: [410] },
	"GET /api/v1/policy/current": { summary: "The policy version in force." },
	"GET /api/v1/policy/notices": { summary: "Policy notices for me, with acknowledgement state.", response: list({ type: "object" }) },
	"POST /api/v1/policy/notices/{version}/ack": { summary: "Acknowledge a policy notice.", status: 204 },
	"POST /api/v1/auth/activate/resend": {
		summary: "Mail a fresh activation link (answers the same whether or not the email exists).",
		status: 202,
	},
	"POST /api/v1/privacy/inquiries": { summary: "Ask the compliance staff a question about our privacy practices.", status: 201 },
	"POST /api/v1/admin/agreements": { summary: "Publish a product agreement version (compliance).", status: 201 },
	"POST /api/v1/admin/campaigns": { summary: "Send an offer to the holders of a product (admin).", status: 202 },
	"POST /api/v1/admin/disclosures": { summary: "Record a disclosure on a legal basis (compliance).", status: 201 },
	"POST /api/v1/admin/policy/versions": {
		summary: "Publish a privacy policy version; notices go out in the background (compliance).",
		status: 202,
	},
	"GET /api/v1/dev/mailbox": {
		summary: "Captured mails, newest first (embedded mode only; 404 in production).",
		response: list(obj({ to: { type: "string" }, subject: { type: "string" }, text: { type: "string" }, links: list({ type: "string" }) })),
	},
};
