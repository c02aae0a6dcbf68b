import type { Knex } from "@portal/platform";
import { sha256 } from "@portal/platform";
import fc from "fast-check";
import { runStaffCommand } from "../../packages/server/src/staff";
import { activatedAccount, eventually, type TestPortal, type TestResponse } from "../support/portal";

/** One operation of the running portal's OpenAPI document. */
export interface Operation {
	method: string;
	path: string;
	/** Anyone may call it (security: []); the gateway runs it anonymously when CSRF fails. */
	isPublic: boolean;
	/** Signed with the purchase webhook secret instead of a session. */
	signed: boolean;
	roles?: string[];
	stateChanging: boolean;
	pathParams: { name: string; schema: JsonSchema }[];
	queryParams: { name: string; required: boolean; schema: JsonSchema }[];
	headerParams: string[];
	bodySchema?: JsonSchema;
	/** Status codes the document names (success and problems). */
	documented: Set<number>;
}

export type JsonSchema = Record<string, any>;

/** Reads every operation from `GET /api/openapi.json`, so new routes are covered without editing tests. */
export async function operations(portal: TestPortal): Promise<Operation[]> {
	const res = await portal.request("GET", "/api/openapi.json");
	if (res.status !== 200) throw new Error(`openapi.json: ${res.status}`);
	const out: Operation[] = [];
	for (const [path, ops] of Object.entries(res.body.paths as Record<string, Record<string, any>>)) {
		for (const [method, op] of Object.entries(ops)) {
			const parameters: any[] = op.parameters ?? [];
			out.push({
				method: method.toUpperCase(),
				path,
				isPublic: Array.isArray(op.security) && op.security.length === 0,
				signed: Array.isArray(op.security) && op.security.some((s: Record<string, unknown>) => "purchaseSignature" in s),
				roles: op["x-roles"],
				stateChanging: ["POST", "PUT", "PATCH", "DELETE"].includes(method.toUpperCase()),
				pathParams: parameters.filter((p) => p.in === "path").map((p) => ({ name: p.name, schema: p.schema ?? {} })),
				queryParams: parameters
					.filter((p) => p.in === "query")
					.map((p) => ({ name: p.name, required: !!p.required, schema: p.schema ?? {} })),
				headerParams: parameters.filter((p) => p.in === "header").map((p) => p.name),
				bodySchema: op.requestBody?.content?.["application/json"]?.schema,
				documented: new Set(
					Object.keys(op.responses ?? {})
						.map(Number)
						.filter((n) => !Number.isNaN(n)),
				),
			});
		}
	}
	return out;
}

export const isApi = (op: Operation) => op.path.startsWith("/api/v1/");
/** Operations a session is needed for: not public, not the signed webhook. */
export const needsSession = (op: Operation) => !op.isPublic && !op.signed;

export function fillPath(path: string, values: Record<string, string>): string {
	return path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeSegment(values[name] ?? "x"));
}

const LONE_SURROGATE = /([\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/;

/** encodeURIComponent, except that a lone surrogate is sent as the (invalid) UTF-8 bytes it would have. */
function encodeSegment(value: string): string {
	return value
		.split(LONE_SURROGATE)
		.map((part, i) => (i % 2 === 1 ? "%ED%A0%80" : encodeURIComponent(part)))
		.join("");
}

export const describeOp = (op: Operation) => `${op.method} ${op.path}`;

/** A session as a browser holds it (cookies + CSRF token) and as a script does (bearer). */
export interface Session {
	accountId: string;
	token: string;
	cookie: string;
	csrf: string;
}

export function sessionFrom(accountId: string, token: string, setCookies: string[]): Session {
	const pairs = setCookies.map((c) => c.split(";")[0] ?? "");
	const csrf = decodeURIComponent(pairs.find((p) => p.startsWith("portal_csrf="))?.slice("portal_csrf=".length) ?? "");
	return { accountId, token, cookie: pairs.join("; "), csrf };
}

export async function signInSession(portal: TestPortal, login: string, password: string): Promise<Session> {
	const res = await portal.request("POST", "/api/v1/auth/sign-in", { body: { login, password } });
	if (res.status !== 200) throw new Error(`sign-in ${login}: ${res.status} ${JSON.stringify(res.body)}`);
	return sessionFrom(res.body.account.id, res.body.token, res.setCookies);
}

export interface Person extends Session {
	email: string;
	username: string;
	password: string;
}

export async function customer(portal: TestPortal, email: string): Promise<Person> {
	const account = await activatedAccount(portal, email);
	const session = sessionFrom(account.account.id, account.token, account.setCookies);
	return { ...session, email, username: account.account.username, password: account.password };
}

/** A staff member created the way operators do (`npm run staff -- create`), activated and signed in. */
export async function staff(portal: TestPortal, email: string, role: string): Promise<Person> {
	const output = await runStaffCommand(portal.broker, ["create", "--email", email, "--role", role]);
	const link = output.split("\n").find((line) => line.includes("/activate?token=")) ?? "";
	const password = "staff member passphrase 2026";
	const res = await portal.request("POST", "/api/v1/auth/activate", { body: { token: new URL(link).searchParams.get("token"), password } });
	if (res.status !== 200) throw new Error(`staff activation: ${res.status} ${JSON.stringify(res.body)}`);
	return { ...sessionFrom(res.body.account.id, res.body.token, res.setCookies), email, username: res.body.account.username, password };
}

export const bearer = (s: { token: string }) => ({ Authorization: `Bearer ${s.token}` });
export const cookieAuth = (s: Session, extra: Record<string, string> = {}) => ({ Cookie: s.cookie, "X-CSRF-Token": s.csrf, ...extra });

export const isProblem = (res: TestResponse) => (res.headers.get("content-type") ?? "").startsWith("application/problem+json");

/** A service's own knex handle (each reads only its own schema). */
export function serviceDb(portal: TestPortal, service: string): Knex {
	return (portal.broker.getLocalService(service) as unknown as { db: Knex }).db;
}

/** Every local service with a database, and the schema it owns. */
function databases(portal: TestPortal): { schema: string; db: Knex }[] {
	const out: { schema: string; db: Knex }[] = [];
	for (const service of portal.broker.services as unknown as { db?: Knex; metadata?: { schema?: string } }[]) {
		if (service.db && service.metadata?.schema) out.push({ schema: service.metadata.schema, db: service.db });
	}
	return out;
}

/**
 * A fingerprint of every table of every schema (row count and an md5 of the rows), read through each
 * service's own handle: two equal snapshots mean nothing was inserted, updated or deleted.
 */
export async function snapshot(portal: TestPortal): Promise<Record<string, string>> {
	const out: Record<string, string> = {};
	for (const { schema, db } of databases(portal)) {
		const tables = await db("information_schema.tables").where({ table_schema: schema, table_type: "BASE TABLE" }).select("table_name");
		for (const { table_name } of tables as { table_name: string }[]) {
			const result = await db.raw(
				`select count(*)::int as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h from ??.?? t`,
				[schema, table_name],
			);
			const row = (result.rows ?? result)[0];
			out[`${schema}.${table_name}`] = `${row.n}:${row.h}`;
		}
	}
	return out;
}

/** Waits until background work (outboxes, channels, mail) has settled: two snapshots in a row agree. */
export async function quietSnapshot(portal: TestPortal): Promise<Record<string, string>> {
	let previous = await snapshot(portal);
	return eventually(
		async () => {
			await new Promise((resolve) => setTimeout(resolve, 400));
			const next = await snapshot(portal);
			const same = JSON.stringify(next) === JSON.stringify(previous);
			previous = next;
			return same ? next : undefined;
		},
		"the databases to settle",
		30_000,
	);
}

/** Tables whose rows differ between two snapshots. */
export function changedTables(before: Record<string, string>, after: Record<string, string>, allowed: string[] = []): string[] {
	const names = new Set([...Object.keys(before), ...Object.keys(after)]);
	return [...names].filter((name) => before[name] !== after[name] && !allowed.includes(name)).sort();
}

/** Session bookkeeping that legitimately moves on any authenticated request (last use, throttling). */
export const MOVING_COUNTERS = ["identity.sessions"];

export const sessionRow = (portal: TestPortal, token: string) =>
	serviceDb(portal, "identity")("identity.sessions").where({ token_hash: sha256(token) });

/** A fast-check arbitrary producing values that fit a JSON schema (as the gateway's document writes them). */
export function arbitraryFor(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
	if (!schema || Object.keys(schema).length === 0) return depth > 2 ? fc.string() : fc.jsonValue({ maxDepth: 2 });
	if ("const" in schema) return fc.constant(schema.const);
	if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
	if (Array.isArray(schema.anyOf)) return fc.oneof(...schema.anyOf.map((s: JsonSchema) => arbitraryFor(s, depth + 1)));
	switch (schema.type) {
		case "string":
			return stringFor(schema);
		case "integer":
			return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
		case "number":
			return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
		case "boolean":
			return fc.boolean();
		case "null":
			return fc.constant(null);
		case "array": {
			const bounds = { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 5, 5) };
			const items = arbitraryFor(schema.items, depth + 1);
			return schema.uniqueItems ? fc.uniqueArray(items, { ...bounds, selector: (v) => JSON.stringify(v) }) : fc.array(items, bounds);
		}
		case "object": {
			const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
			const keys = Object.keys(properties);
			if (keys.length === 0) {
				const value =
					typeof schema.additionalProperties === "object"
						? arbitraryFor(schema.additionalProperties, depth + 1)
						: fc.jsonValue({ maxDepth: 1 });
				// Free-form maps (e.g. mail topics) take identifier-like keys.
				return fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/), value, { maxKeys: 4 });
			}
			const model: Record<string, fc.Arbitrary<unknown>> = {};
			for (const key of keys) model[key] = arbitraryFor(properties[key], depth + 1);
			return fc.record(model, { requiredKeys: (schema.required ?? []) as string[] });
		}
		default:
			return fc.jsonValue({ maxDepth: 1 });
	}
}

function stringFor(schema: JsonSchema): fc.Arbitrary<string> {
	const maxLength = typeof schema.maxLength === "number" ? schema.maxLength : 300;
	const minLength = typeof schema.minLength === "number" ? schema.minLength : 0;
	const fits = (s: string) => s.length >= minLength && s.length <= maxLength;
	switch (schema.format) {
		case "email":
			return fc.emailAddress().filter(fits);
		case "uuid":
			return fc.uuid();
		case "date-time":
			return fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString());
		case "uri":
			return fc.webUrl().filter(fits);
	}
	if (typeof schema.pattern === "string") {
		try {
			return fc.stringMatching(new RegExp(schema.pattern, "u")).filter(fits);
		} catch {
			// A pattern fast-check cannot generate from: plain strings, most of which the service refuses.
		}
	}
	return fc.oneof(fc.string({ minLength, maxLength: Math.min(maxLength, 60) }), fc.constantFrom(...HOSTILE_STRINGS).filter(fits));
}

/** Strings that break naive code: SQL and script injection, prototype keys, control characters, odd Unicode. */
export const HOSTILE_STRINGS = [
	"' OR 1=1 --",
	"'; drop table identity.accounts; --",
	'" OR ""="',
	"1; select pg_sleep(5)",
	"<script>alert(1)</script>",
	'"><img src=x onerror=alert(1)>',
	"javascript:alert(1)",
	["$", "{7*7}{{7*7}}<%= 7*7 %>"].join(""),
	"__proto__",
	"constructor",
	"prototype",
	"../../../../etc/passwd",
	"%00\u0000nul",
	"\u202e\u200b\ufeff",
	"𝕳𝖊𝖑𝖑𝖔 🚀",
	"\ud800",
	"a".repeat(10_000),
];

/** JSON nested `levels` deep: `{"a":{"a":…}}` (built as text; too deep for a recursive stringify). */
export const deepJson = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

/** Someone with data in every service: the account the others try to reach. */
export interface Victim extends Person {
	/** Every id of the victim's own things, by kind (path parameters are tried with each). */
	ids: Record<string, string>;
	/** Values only the victim's data contains: none may show up in another account's answers. */
	secrets: string[];
	etag: string;
}

export async function victim(portal: TestPortal, email: string, friend: Person): Promise<Victim> {
	const person = await customer(portal, email);
	const auth = { headers: bearer(person) };
	const read = await portal.request("GET", "/api/v1/profiles/me", auth);
	const marker = `Zebedee${person.accountId.slice(0, 6)}`;
	const patched = await portal.request("PATCH", "/api/v1/profiles/me", {
		headers: { ...bearer(person), "If-Match": read.headers.get("etag") ?? "" },
		body: {
			name: { givenName: marker, familyName: "Quartermain" },
			contact: { phone: "+1 415 555 0199" },
			address: { city: "Xanadu Springs" },
		},
	});
	if (patched.status !== 200) throw new Error(`profile: ${patched.status} ${JSON.stringify(patched.body)}`);
	const share = await portal.request("POST", "/api/v1/shares", {
		...auth,
		body: { grantee: { username: friend.username }, role: "viewer" },
	});
	const team = await portal.request("POST", "/api/v1/teams", { ...auth, body: { name: `Team ${marker}` } });
	const member = await portal.request("POST", `/api/v1/teams/${team.body?.id}/members`, { ...auth, body: { username: friend.username } });
	const consent = await portal.request("POST", "/api/v1/privacy/consents", {
		...auth,
		body: { purpose: "research", recipient: `Lab ${marker}`, scope: ["contact"] },
	});
	const request = await portal.request("POST", "/api/v1/privacy/requests", { ...auth, body: { type: "access", californiaResident: true } });
	const inquiry = await portal.request("POST", "/api/v1/privacy/inquiries", {
		...auth,
		body: { subject: `Q ${marker}`, message: "What do you keep?" },
	});
	const sessions = await portal.request("GET", "/api/v1/auth/sessions", auth);
	for (const [what, res, status] of [
		["share", share, 201],
		["team", team, 201],
		["member", member, 201],
		["consent", consent, 201],
		["request", request, 202],
		["inquiry", inquiry, 201],
	] as const) {
		if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
	}
	const sessionList: { id: string }[] = Array.isArray(sessions.body)
		? sessions.body
		: (sessions.body?.sessions ?? sessions.body?.items ?? []);
	const mine = await portal.request("GET", "/api/v1/profiles/me", auth);
	return {
		...person,
		etag: mine.headers.get("etag") ?? "",
		ids: {
			account: person.accountId,
			share: share.body.id,
			team: team.body.id,
			consent: consent.body.id,
			request: request.body.id,
			inquiry: inquiry.body.id,
			session: sessionList[0]?.id ?? "",
		},
		secrets: [marker, "Quartermain", "Xanadu Springs", "555 0199", person.email, person.username],
	};
}
