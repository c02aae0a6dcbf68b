import { knex } from "knex";
import { describeInfra } from "../support/infra";
import { activatedAccount, startTestPortal, type TestPortal } from "../support/portal";

/** The part of autocannon's programmatic API used here (the package ships no types). */
interface LoadRequest {
	method?: string;
	path?: string;
	setupRequest?: (req: Record<string, unknown>, context: Record<string, unknown>) => Record<string, unknown>;
	onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void;
}
interface LoadResult {
	requests: { total: number };
	errors: number;
	timeouts: number;
}
const autocannon = require("autocannon") as (opts: {
	url: string;
	connections: number;
	duration: number;
	timeout: number;
	requests: LoadRequest[];
}) => Promise<LoadResult>;

const DURATION_SECONDS = 60;
const CONNECTIONS = 6;

/**
 * R9, R12, R30: a bounded load (autocannon, loopback, 60 s, stops by itself) mixing sign-ins,
 * profile reads, profile writes with If-Match, and shared-profile reads (a sharing check each):
 * no 5xx, and no lost write: every acknowledged write (each sets a unique value) is in the
 * revision history afterwards, and each profile ends with its last acknowledged value.
 */
describeInfra("load: sign-ins, profile reads and writes, sharing checks", () => {
	let portal: TestPortal;

	beforeAll(async () => {
		portal = await startTestPortal();
	}, 60_000);
	afterAll(() => portal?.stop(), 60_000);

	it("R9, R12, R30: 60 s of mixed load: zero 5xx, zero lost writes, no stranger let in", async () => {
		const owners = await Promise.all(
			Array.from({ length: CONNECTIONS }, (_, i) => activatedAccount(portal, `load-owner-${i}@example.com`)),
		);
		const [friend, stranger] = await Promise.all([
			activatedAccount(portal, "load-friend@example.com"),
			activatedAccount(portal, "load-stranger@example.com"),
		]);
		for (const owner of owners) {
			const granted = await portal.request("POST", "/api/v1/shares", {
				body: { grantee: { username: friend.account.username }, role: "viewer" },
				headers: { Authorization: `Bearer ${owner.token}` },
			});
			expect(granted.status).toBe(201);
		}

		const statuses = new Map<string, Map<number, number>>();
		const tally = (what: string, status: number) => {
			const counts = statuses.get(what) ?? new Map<number, number>();
			counts.set(status, (counts.get(status) ?? 0) + 1);
			statuses.set(what, counts);
		};
		const acknowledged = new Map<string, string[]>(owners.map((o) => [o.account.id, []]));
		let nextOwner = 0;
		let serial = 0;
		const header = (headers: Record<string, string>, name: string) =>
			Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
		type Owner = (typeof owners)[number];
		const ownerOf = (context: Record<string, unknown>): Owner => {
			context.owner ??= owners[nextOwner++ % owners.length];
			return context.owner as Owner;
		};
		const json = { "Content-Type": "application/json" };

		// Each connection plays one owner: read, write with the ETag just read, then a friend's and a
		// stranger's read of that profile, then a sign-in.
		const result = await autocannon({
			url: portal.url,
			connections: CONNECTIONS,
			duration: DURATION_SECONDS,
			timeout: 20,
			requests: [
				{
					method: "GET",
					setupRequest: (req, context) => ({
						...req,
						path: "/api/v1/profiles/me",
						headers: { Authorization: `Bearer ${ownerOf(context).token}` },
					}),
					onResponse: (status, _body, context, headers) => {
						tally("GET /profiles/me", status);
						context.etag = header(headers, "etag");
					},
				},
				{
					method: "PATCH",
					setupRequest: (req, context) => {
						const value = `Load ${serial++}`;
						context.value = value;
						return {
							...req,
							path: "/api/v1/profiles/me",
							headers: { ...json, Authorization: `Bearer ${ownerOf(context).token}`, "If-Match": String(context.etag ?? "") },
							body: JSON.stringify({ name: { familyName: value } }),
						};
					},
					onResponse: (status, _body, context) => {
						tally("PATCH /profiles/me", status);
						if (status === 200) acknowledged.get(ownerOf(context).account.id)?.push(String(context.value));
					},
				},
				{
					method: "GET",
					setupRequest: (req, context) => ({
						...req,
						path: `/api/v1/profiles/${ownerOf(context).account.id}`,
						headers: { Authorization: `Bearer ${friend.token}` },
					}),
					onResponse: (status) => tally("GET /profiles/:id (grantee)", status),
				},
				{
					method: "GET",
					setupRequest: (req, context) => ({
						...req,
						path: `/api/v1/profiles/${ownerOf(context).account.id}`,
						headers: { Authorization: `Bearer ${stranger.token}` },
					}),
					onResponse: (status) => tally("GET /profiles/:id (stranger)", status),
				},
				{
					method: "POST",
					setupRequest: (req, context) => ({
						...req,
						path: "/api/v1/auth/sign-in",
						headers: json,
						body: JSON.stringify({ login: ownerOf(context).account.username, password: ownerOf(context).password }),
					}),
					onResponse: (status) => tally("POST /auth/sign-in", status),
				},
			],
		});

		// Read back: every acknowledged value is in the owner's history, and so is the profile's value.
		const db = knex({ client: "pg", connection: portal.config.databaseUrl ?? "", pool: { min: 0, max: 1 } });
		let lost = 0;
		let written = 0;
		try {
			for (const owner of owners) {
				const history = await db("profile.revisions").where({ account_id: owner.account.id }).select("changes");
				const recorded = new Set(
					history.flatMap((r: { changes: { field: string; new: string }[] }) =>
						r.changes.filter((c) => c.field === "name.familyName").map((c) => c.new),
					),
				);
				const values = acknowledged.get(owner.account.id) ?? [];
				written += values.length;
				lost += values.filter((v) => !recorded.has(v)).length;
				const now = await portal.request("GET", "/api/v1/profiles/me", { headers: { Authorization: `Bearer ${owner.token}` } });
				// Answers on parallel connections arrive out of commit order, and writes still in flight when
				// the load stops commit unanswered: the profile holds a value its history recorded.
				expect(recorded.has(now.body.name.familyName)).toBe(true);
			}
		} finally {
			await db.destroy();
		}

		const summary = [...statuses].map(([what, counts]) => `  ${what}: ${[...counts].map(([s, n]) => `${s}×${n}`).join(" ")}`);
		process.stdout.write(
			[
				"",
				`Load ${DURATION_SECONDS} s, ${CONNECTIONS} connections: ${result.requests.total} requests (${Math.round(result.requests.total / DURATION_SECONDS)}/s), ${result.errors} errors, ${result.timeouts} timeouts; ${written} acknowledged writes, ${lost} lost`,
				...summary,
				"",
			].join("\n"),
		);
		const serverErrors = [...statuses.values()].flatMap((counts) => [...counts].filter(([s]) => s >= 500).map(([, n]) => n));
		expect(serverErrors).toEqual([]);
		expect([result.errors, result.timeouts]).toEqual([0, 0]);
		expect(written).toBeGreaterThan(100);
		expect(lost).toBe(0);
		// Each owner's own connection: no concurrent edit, so no 412, and every grantee read allowed.
		expect([...(statuses.get("PATCH /profiles/me")?.keys() ?? [])]).toEqual([200]);
		expect([...(statuses.get("GET /profiles/:id (grantee)")?.keys() ?? [])]).toEqual([200]);
		expect([...(statuses.get("GET /profiles/:id (stranger)")?.keys() ?? [])]).toEqual([404]);
		expect([...(statuses.get("POST /auth/sign-in")?.keys() ?? [])]).toEqual([200]);
	}, 150_000);
});
