import { hmacSha256 } from "@portal/platform";
import fc from "fast-check";
import { httpRequest, startTestPortal, type TestPortal, type TestResponse } from "../support/portal";
import {
	arbitraryFor,
	bearer,
	changedTables,
	customer,
	deepJson,
	describeOp,
	fillPath,
	isApi,
	isProblem,
	type JsonSchema,
	MOVING_COUNTERS,
	type Operation,
	operations,
	type Person,
	quietSnapshot,
	staff,
} from "./support";

/**
 * Injection and parsing (issue 9, R31): every operation of the OpenAPI document gets bodies, paths
 * and queries derived from its own schemas (fast-check) plus hostile input. The answer is always a
 * 4xx problem+json or a documented 2xx, never a 5xx; the portal keeps answering; and requests that
 * are refused write nothing in any schema.
 */
describe("security: injection and parsing", () => {
	let portal: TestPortal;
	let ops: Operation[];
	let pat: Person;
	let tess: Person; // takes the /auth/ operations, which may end her own sessions
	const staffByRole: Record<string, Person> = {};
	const tally = { invalid: 0, invalidLetThrough: 0, generated: 0, generated5xx: 0 };

	beforeAll(async () => {
		portal = await startTestPortal();
		pat = await customer(portal, "pat.fuzz@example.com");
		tess = await customer(portal, "tess.auth@example.com");
		for (const role of ["support", "compliance", "admin"]) staffByRole[role] = await staff(portal, `fuzz.${role}@omti.example`, role);
		// Operations that may end the session (sign-out, "end my sessions") run last.
		const rank = (op: Operation) =>
			!op.path.startsWith("/api/v1/auth/") ? 0 : op.method === "DELETE" || op.path.endsWith("/sign-out") ? 2 : 1;
		ops = (await operations(portal)).filter(isApi).sort((a, b) => rank(a) - rank(b));
	});
	afterAll(async () => {
		console.info(
			`fuzz: ${tally.invalid} invalid requests (${tally.invalidLetThrough} let through), ${tally.generated} schema-derived requests (${tally.generated5xx} answered 5xx)`,
		);
		await portal?.stop();
	});

	/** The session an operation is tried with: a staff member of a role it accepts, else a customer. */
	const actorFor = (op: Operation): Person =>
		op.roles ? (staffByRole[op.roles[0] as string] as Person) : op.path.startsWith("/api/v1/auth/") ? tess : pat;

	function send(op: Operation, path: string, opts: { raw?: string | Buffer; body?: unknown; contentType?: string; query?: string }) {
		const headers: Record<string, string> = { ...bearer(actorFor(op)), "If-Match": "*" };
		// fetch cannot send a GET body; the query and path are what a GET is fuzzed with.
		let raw = op.method === "GET" ? undefined : opts.raw;
		if (raw === undefined && opts.body !== undefined && op.method !== "GET") raw = JSON.stringify(opts.body);
		if (raw !== undefined) headers["Content-Type"] = opts.contentType ?? "application/json";
		if (op.signed) headers["X-OMTI-Signature"] = `sha256=${hmacSha256(portal.config.purchaseWebhookSecret, raw ?? "")}`;
		return httpRequest(`${portal.url}${path}${opts.query ?? ""}`, op.method, { raw, headers });
	}

	const sample = (schema: JsonSchema | undefined, seed: number) => fc.sample(arbitraryFor(schema), { seed, numRuns: 1 })[0];
	const pathOf = (op: Operation, seed: number) =>
		fillPath(op.path, Object.fromEntries(op.pathParams.map((p) => [p.name, String(sample(p.schema, seed))])));
	const requiredQuery = (op: Operation, seed: number) => {
		const params = new URLSearchParams();
		for (const q of op.queryParams.filter((p) => p.required)) params.set(q.name, String(sample(q.schema, seed)));
		return params.size ? `?${params}` : "";
	};

	/** A value that cannot fit `schema` (wrong type, out of the enum, too long, not a uuid …). */
	function misfits(schema: JsonSchema): unknown[] {
		if (schema.anyOf) return [{ nested: { not: "any of them" } }];
		if (schema.const !== undefined) return ["not-the-constant", 1];
		if (schema.enum) return ["' OR 1=1 --", 42, ["viewer"]];
		switch (schema.type) {
			case "string": {
				// Dates also take epoch numbers (the validator converts them), so only strings and objects misfit there.
				if (schema.format === "date-time") return ["yesterday", "2026-13-45T99:99:99Z", { $ne: null }, ["a"]];
				const out: unknown[] = [12345, { $ne: null }, ["a"], true];
				if (typeof schema.maxLength === "number") out.push("a".repeat(schema.maxLength + 1));
				if (schema.format === "uuid") out.push("' OR 1=1 --", "00000000-0000-0000-0000-00000000000g");
				if (schema.format === "email") out.push("<script>@x", "a@b@c");
				return out;
			}
			case "integer":
			case "number":
				return ["1; drop table x", "Infinity", { $gt: 0 }];
			case "boolean":
				return ["true", 1, null];
			case "array":
				return [
					"x",
					{ 0: "a" },
					...(typeof schema.maxItems === "number" ? [Array.from({ length: schema.maxItems + 1 }, (_, i) => `i${i}`)] : []),
				];
			case "object":
				return ["x", [1, 2], 7];
			default:
				return [];
		}
	}

	/** Requests each operation must refuse with a 4xx: derived from its schemas, so new routes get them too. */
	function invalidCases(
		op: Operation,
	): { what: string; path: string; raw?: string | Buffer; body?: unknown; contentType?: string; query?: string }[] {
		const path = pathOf(op, 1);
		const query = requiredQuery(op, 1);
		const cases: ReturnType<typeof invalidCases> = [];
		for (const p of op.pathParams) {
			if (!p.schema.format && !p.schema.pattern && !p.schema.enum) continue;
			for (const bad of ["' OR 1=1 --", "..%2F..%2Fetc%2Fpasswd", "%00", "a".repeat(300), "__proto__"]) {
				cases.push({
					what: `path ${p.name}=${bad.slice(0, 20)}`,
					path: op.path.replace(`{${p.name}}`, bad).replace(/\{[^}]+\}/g, "x"),
					query,
					body: sample(op.bodySchema, 1),
				});
			}
		}
		for (const q of op.queryParams) {
			if (q.required) cases.push({ what: `missing query ${q.name}`, path, body: sample(op.bodySchema, 1) });
			for (const bad of misfits(q.schema).filter((v) => typeof v === "string")) {
				const params = new URLSearchParams(query.slice(1));
				params.set(q.name, String(bad));
				cases.push({ what: `query ${q.name}=${String(bad).slice(0, 20)}`, path, query: `?${params}`, body: sample(op.bodySchema, 1) });
			}
		}
		const schema = op.bodySchema;
		if (!op.stateChanging || op.method === "DELETE") return cases;
		cases.push({ what: "malformed JSON", path, query, raw: '{"a": ' });
		cases.push({ what: "invalid UTF-8", path, query, raw: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x3a, 0x31]) });
		cases.push({ what: "unknown charset", path, query, raw: "{}", contentType: "application/json; charset=klingon" });
		if (!schema?.required?.length) return cases;
		const valid = sample(schema, 1) as Record<string, unknown>;
		cases.push({ what: "empty object", path, query, body: {} });
		for (const root of ["[]", '"text"', "42", "null", "true"]) cases.push({ what: `root ${root}`, path, query, raw: root });
		cases.push({ what: "10 000 levels deep", path, query, raw: deepJson(10_000) });
		cases.push({ what: "text/plain", path, query, raw: JSON.stringify(valid), contentType: "text/plain" });
		cases.push({
			what: "urlencoded",
			path,
			query,
			raw: new URLSearchParams(
				Object.entries(valid).map(([k, v]): [string, string] => [k, typeof v === "string" ? v : JSON.stringify(v)]),
			).toString(),
			contentType: "application/x-www-form-urlencoded",
		});
		if (schema.additionalProperties === false) {
			const base = JSON.stringify(valid).slice(1, -1);
			for (const extra of ['"__proto__":{"isAdmin":true,"polluted":1}', '"constructor":{"prototype":{"polluted":1}}', '"$where":"1==1"']) {
				cases.push({ what: `extra ${extra.slice(0, 16)}`, path, query, raw: `{${base}${base ? "," : ""}${extra}}` });
			}
		}
		for (const field of schema.required as string[]) {
			const without = { ...valid };
			delete without[field];
			cases.push({ what: `missing ${field}`, path, query, body: without });
			for (const bad of misfits((schema.properties?.[field] ?? {}) as JsonSchema)) {
				cases.push({ what: `${field}=${JSON.stringify(bad).slice(0, 24)}`, path, query, body: { ...valid, [field]: bad } });
			}
			cases.push({
				what: `${field} nested 10 000 deep`,
				path,
				query,
				raw: JSON.stringify({ ...valid, [field]: 0 }).replace(`"${field}":0`, `"${field}":${deepJson(10_000)}`),
			});
		}
		return cases;
	}

	it("R31: invalid bodies, paths and queries on every operation get a 4xx problem+json and write nothing", async () => {
		const before = await quietSnapshot(portal);
		const failures: string[] = [];
		for (const op of ops) {
			for (const c of invalidCases(op)) {
				const res = await send(op, c.path, c);
				tally.invalid++;
				if (res.status < 400 || res.status >= 500 || !isProblem(res)) {
					tally.invalidLetThrough++;
					failures.push(`${describeOp(op)} [${c.what}]: ${res.status} ${String(JSON.stringify(res.body)).slice(0, 160)}`);
				}
			}
		}
		expect(failures).toEqual([]);
		expect(tally.invalid).toBeGreaterThan(500);
		expect(changedTables(before, await quietSnapshot(portal), MOVING_COUNTERS)).toEqual([]);
		expect(Object.keys(Object.prototype)).toEqual([]);
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	});

	it("R31: a body over 1 MiB is refused with 413 before anything runs", async () => {
		for (const op of ops.filter((o) => o.bodySchema?.required?.length).slice(0, 4)) {
			const res = await send(op, pathOf(op, 1), { raw: JSON.stringify({ padding: "x".repeat(1_100_000) }) });
			tally.invalid++;
			expect({ op: describeOp(op), status: res.status, problem: isProblem(res) }).toEqual({
				op: describeOp(op),
				status: 413,
				problem: true,
			});
		}
	});

	it("R31: schema-derived and hostile values (SQL, script, prototype keys, odd Unicode) never cause a 5xx", async () => {
		const failures: string[] = [];
		const undocumented = new Set<string>();
		for (const op of ops) {
			const arbitrary = fc.record({
				body: op.bodySchema ? arbitraryFor(op.bodySchema) : fc.constant(undefined),
				path: fc.record(Object.fromEntries(op.pathParams.map((p) => [p.name, arbitraryFor(p.schema).map(String)]))),
				query: fc.record(Object.fromEntries(op.queryParams.map((q) => [q.name, arbitraryFor(q.schema).map(String)])), { requiredKeys: [] }),
			});
			await fc.assert(
				fc.asyncProperty(arbitrary, async ({ body, path, query }) => {
					const search = new URLSearchParams(query as Record<string, string>);
					const res: TestResponse = await send(op, fillPath(op.path, path as Record<string, string>), {
						body,
						query: search.size ? `?${search}` : "",
					});
					tally.generated++;
					const ok = res.status < 400 ? res.status >= 200 : res.status < 500 && isProblem(res);
					if (res.status < 400 && !op.documented.has(res.status)) undocumented.add(`${describeOp(op)} → ${res.status}`);
					if (res.status >= 500) tally.generated5xx++;
					if (!ok)
						failures.push(
							`${describeOp(op)} ${JSON.stringify({ body, path, query }).slice(0, 300)} → ${res.status} ${String(JSON.stringify(res.body)).slice(0, 200)}`,
						);
					return true;
				}),
				{ numRuns: 20, seed: 20261125 },
			);
		}
		// Every success status a route really answers is the one its OpenAPI document names.
		expect([...undocumented]).toEqual([]);
		expect(failures).toEqual([]);
	});

	it("R31: what is stored is exactly what was sent: injection strings round-trip as data", async () => {
		const me = await portal.request("GET", "/api/v1/profiles/me", { headers: bearer(pat) });
		const values = { givenName: "' OR 1=1 --", familyName: "<script>alert(1)</script>", jobTitle: "__proto__" };
		const patched = await portal.request("PATCH", "/api/v1/profiles/me", {
			headers: { ...bearer(pat), "If-Match": me.headers.get("etag") ?? "" },
			body: { name: { givenName: values.givenName, familyName: values.familyName }, employment: { jobTitle: values.jobTitle } },
		});
		expect(patched.status).toBe(200);
		const read = await portal.request("GET", "/api/v1/profiles/me", { headers: bearer(pat) });
		expect(read.body.name).toEqual({ givenName: values.givenName, familyName: values.familyName });
		expect(read.body.employment.jobTitle).toBe(values.jobTitle);
	});

	it("R31: after all of it the portal is still ready and serves a normal request", async () => {
		expect((await portal.request("GET", "/readyz")).status).toBe(200);
		expect((await portal.request("GET", "/api/v1/me", { headers: bearer(pat) })).status).toBe(200);
		expect(Object.keys(Object.prototype)).toEqual([]);
	});
});
