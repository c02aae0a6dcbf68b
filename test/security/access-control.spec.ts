import fc from "fast-check";
import { startTestPortal, type TestPortal, type TestResponse } from "../support/portal";
import {
	arbitraryFor,
	bearer,
	customer,
	describeOp,
	fillPath,
	isApi,
	needsSession,
	type Operation,
	operations,
	type Person,
	quietSnapshot,
	sessionRow,
	signInSession,
	staff,
	type Victim,
	victim,
} from "./support";

/**
 * Broken access control (issue 9, R8, R11, R6, R7), black-box: every operation of the running
 * portal's OpenAPI document is tried without a session, with dead sessions, with another account's
 * ids, and (for staff routes) with the wrong kind of session.
 */
describe("security: access control", () => {
	let portal: TestPortal;
	let ops: Operation[];
	let bea: Victim; // the victim: has data everywhere
	let ann: Person; // the attacker: a customer of her own
	let val: Person; // bea shares her profile with val as a viewer
	let ed: Person; // bea lets ed edit her name section only
	let staffByRole: Record<string, Person>;
	const tally = { tried: 0, letThrough: 0 };

	beforeAll(async () => {
		portal = await startTestPortal();
		ann = await customer(portal, "ann.attacker@example.com");
		val = await customer(portal, "val.viewer@example.com");
		ed = await customer(portal, "ed.editor@example.com");
		bea = await victim(portal, "bea.owner@example.com", val);
		const edGrant = await portal.request("POST", "/api/v1/shares", {
			headers: bearer(bea),
			body: { grantee: { username: ed.username }, role: "editor", sections: ["name"] },
		});
		expect(edGrant.status).toBe(201);
		staffByRole = {};
		for (const role of ["support", "compliance", "admin"]) staffByRole[role] = await staff(portal, `${role}.staff@omti.example`, role);
		ops = (await operations(portal)).filter(isApi);
	});
	afterAll(async () => {
		console.info(`access control: ${tally.tried} requests tried, ${tally.letThrough} let through`);
		await portal?.stop();
	});

	/** A body that fits the operation's schema, so validation never hides an access decision. */
	const validBody = (op: Operation, seed: number) =>
		op.bodySchema
			? // Text the gateway refuses outright (NUL, lone surrogates) or empty sections would hide the access decision behind a 422.
				fc
					.sample(arbitraryFor(op.bodySchema), { seed, numRuns: 50 })
					.find((body) => !/\\u0000|\\ud[89a-f]|:\{\}/i.test(JSON.stringify(body)))
			: undefined;
	const validQuery = (op: Operation, seed: number) => {
		const required = op.queryParams.filter((q) => q.required);
		if (required.length === 0) return "";
		const params = new URLSearchParams();
		for (const q of required) params.set(q.name, String(fc.sample(arbitraryFor(q.schema), { seed, numRuns: 1 })[0]));
		return `?${params}`;
	};

	/** Calls an operation with bea's own ids in the path (so the route exists) and the given headers. */
	function call(
		op: Operation,
		headers: Record<string, string>,
		values: Record<string, string> = beasIds(),
		seed = 1,
	): Promise<TestResponse> {
		const extra: Record<string, string> = op.headerParams.includes("If-Match") ? { "If-Match": bea.etag } : {};
		return portal.request(op.method, fillPath(op.path, values) + validQuery(op, seed), {
			headers: { ...extra, ...headers },
			body: validBody(op, seed),
		});
	}
	const beasIds = (): Record<string, string> => ({
		accountId: bea.accountId,
		id: bea.ids.share ?? "",
		version: "2026-01",
		productCode: "RB9",
		code: "x",
	});

	function expectRefused(res: TestResponse, op: Operation | string, statuses: number[], what: string) {
		tally.tried++;
		const label = typeof op === "string" ? op : describeOp(op);
		const leaked = bea.secrets.filter((s) => JSON.stringify(res.body ?? "").includes(s));
		if (statuses.includes(res.status) && leaked.length === 0) return;
		tally.letThrough++;
		failures.push(
			`${label} (${what}): ${res.status}${leaked.length ? ` leaked ${leaked.join(", ")}` : ""} ${JSON.stringify(res.body).slice(0, 200)}`,
		);
	}
	/** Every refusal that did not happen, listed at the end of a test (so one run shows them all). */
	let failures: string[] = [];
	beforeEach(() => {
		failures = [];
		expect(failures).toEqual([]);
	});

	it("R8: without a session every non-public operation answers 401 problem+json, whatever the ids", async () => {
		const guarded = ops.filter(needsSession);
		expect(guarded.length).toBeGreaterThan(40);
		for (const op of guarded) {
			const res = await call(op, {});
			expectRefused(res, op, [401], "no session");
			expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
		}
		const hook = ops.find((op) => op.signed);
		if (hook) expectRefused(await call(hook, {}), hook, [401], "unsigned webhook");
		expect(failures).toEqual([]);
	});

	it("R6: an expired, idle-expired or revoked session is refused (401) on every non-public operation", async () => {
		const absolute = await signInSession(portal, ann.username, ann.password);
		await sessionRow(portal, absolute.token).update({ expires_at: new Date(Date.now() - 1_000) });
		const idle = await signInSession(portal, ann.username, ann.password);
		await sessionRow(portal, idle.token).update({ last_used_at: new Date(Date.now() - 24 * 3_600_000) });
		// Used first (so any cache holds it), then revoked by the owner from another session.
		const revoked = await signInSession(portal, ann.username, ann.password);
		expect((await portal.request("GET", "/api/v1/me", { headers: bearer(revoked) })).status).toBe(200);
		const [row] = await sessionRow(portal, revoked.token).select("id");
		expect((await portal.request("DELETE", `/api/v1/auth/sessions/${row.id}`, { headers: bearer(ann) })).status).toBe(204);
		const signedOut = await signInSession(portal, ann.username, ann.password);
		expect((await portal.request("GET", "/api/v1/me", { headers: bearer(signedOut) })).status).toBe(200);
		expect((await portal.request("POST", "/api/v1/auth/sign-out", { headers: bearer(signedOut) })).status).toBe(204);

		for (const [what, session] of Object.entries({ absolute, idle, revoked, signedOut })) {
			for (const op of ops.filter(needsSession)) {
				expectRefused(await call(op, bearer(session)), op, [401], `${what} (bearer)`);
				if (op.method === "GET") expectRefused(await call(op, { Cookie: session.cookie }), op, [401], `${what} (cookie)`);
			}
		}
		expect(failures).toEqual([]);
	});

	it("R8/R11: another account's ids in any path get 403/404 and none of the owner's data", async () => {
		const before = await ownerView();
		const pool = Object.values(bea.ids);
		const customerOps = ops.filter((op) => needsSession(op) && !op.roles && op.pathParams.length > 0);
		expect(customerOps.length).toBeGreaterThan(8);
		for (const op of customerOps) {
			for (const id of pool) {
				const values: Record<string, string> = {};
				for (const p of op.pathParams) values[p.name] = p.name === "accountId" && op.path.includes("/members/") ? val.accountId : id;
				const res = await call(op, bearer(ann), values);
				// A path value that does not fit the route's parameter schema is a 422 before any lookup.
				const wrongShape = res.status === 422 && /"field":"(version|productCode|code)"/.test(JSON.stringify(res.body.errors ?? []));
				expectRefused(res, op, wrongShape ? [422] : [403, 404], `bea's ${JSON.stringify(values)}`);
			}
		}
		expect(await ownerView()).toEqual(before);
		expect(failures).toEqual([]);
	});

	it("R8: the signed-in lists never show another account's things", async () => {
		for (const op of ops.filter((o) => needsSession(o) && !o.roles && o.method === "GET" && o.pathParams.length === 0)) {
			expectRefused(await call(op, bearer(ann)), op, [200, 404], "ann's own list");
		}
		expect(failures).toEqual([]);
	});

	it("R11: a viewer cannot edit, an editor edits only the granted section, neither can change the sharing", async () => {
		const before = await ownerView();
		for (const op of ops.filter((o) => needsSession(o) && !o.roles && o.stateChanging && o.path.includes("{accountId}"))) {
			const res = await call(op, bearer(val), { accountId: bea.accountId, id: bea.ids.team ?? "" });
			expectRefused(res, op, [403, 404], "viewer edits");
		}
		const contact = await portal.request("PATCH", `/api/v1/profiles/${bea.accountId}`, {
			headers: { ...bearer(ed), "If-Match": bea.etag },
			body: { contact: { phone: "+1 212 555 0000" } },
		});
		expectRefused(contact, "PATCH /api/v1/profiles/{accountId}", [403, 404], "editor outside the grant");
		for (const [method, path] of [
			["DELETE", `/api/v1/shares/${bea.ids.share}`],
			["POST", `/api/v1/teams/${bea.ids.team}/members`],
			["DELETE", `/api/v1/teams/${bea.ids.team}/members/${val.accountId}`],
		] as const) {
			for (const grantee of [val, ed]) {
				const res = await portal.request(method, path, {
					headers: bearer(grantee),
					body: method === "POST" ? { username: ann.username } : undefined,
				});
				expectRefused(res, `${method} ${path}`, [403, 404], "grantee changes sharing");
			}
		}
		expect(await ownerView()).toEqual(before);
		// Positive control: the granted section really is editable, so the refusals above are access decisions.
		const name = await portal.request("PATCH", `/api/v1/profiles/${bea.accountId}`, {
			headers: { ...bearer(ed), "If-Match": bea.etag },
			body: { name: { familyName: "Quartermain-Edited" } },
		});
		expect(name.status).toBe(200);
		const seen = await portal.request("GET", `/api/v1/profiles/${bea.accountId}`, { headers: bearer(ed) });
		expect(seen.status).toBe(200);
		expect(JSON.stringify(seen.body)).not.toContain("Xanadu Springs");
		expect(JSON.stringify(seen.body)).not.toContain("555 0199");
		bea.etag = (await portal.request("GET", "/api/v1/profiles/me", { headers: bearer(bea) })).headers.get("etag") ?? "";
		expect(failures).toEqual([]);
	});

	it("R7: staff routes refuse customers (403) and staff of another role (403)", async () => {
		const staffOps = ops.filter((op) => op.roles);
		expect(staffOps.length).toBeGreaterThan(10);
		for (const op of staffOps) {
			const values = { accountId: bea.accountId, id: bea.ids.request ?? "", version: "2026-01" };
			expectRefused(await call(op, bearer(ann), values), op, [403], "customer");
			for (const [role, member] of Object.entries(staffByRole)) {
				if (op.roles?.includes(role)) continue;
				expectRefused(await call(op, bearer(member), values), op, [403], `staff ${role}`);
			}
		}
		// Positive control: the right role gets past the access check.
		const queue = await portal.request("GET", "/api/v1/admin/privacy/requests", { headers: bearer(staffByRole.compliance as Person) });
		expect(queue.status).toBe(200);
		expect(failures).toEqual([]);
	});

	/** What bea herself sees of her things: unchanged after every attack. */
	async function ownerView() {
		const get = async (path: string) => (await portal.request("GET", path, { headers: bearer(bea) })).body;
		const profile = await get("/api/v1/profiles/me");
		await quietSnapshot(portal);
		return {
			profile: { name: profile.name, contact: profile.contact, address: profile.address },
			shares: await get("/api/v1/shares"),
			teams: await get("/api/v1/teams"),
			consents: await get("/api/v1/privacy/consents"),
			requests: await get("/api/v1/privacy/requests"),
			sessions: ((await get("/api/v1/auth/sessions")) as { id: string }[]).map((s) => s.id),
		};
	}
});
