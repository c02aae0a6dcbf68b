import { SHARING_CACHE_CLEAN_EVENT } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import { infraMode } from "../../../test/support/infra";
import { activatedAccount, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { SharingService } from "../src";
import { decisionInputs } from "../src/grants.repo";

type Who = { token: string; account: { id: string; username: string } };

/** R8, R11–R13 through the HTTP API, as the people involved see it. */
describe("sharing: grants, teams and what others see", () => {
	let portal: TestPortal;
	let owner: Who;
	let viewer: Who;
	let editor: Who;
	let stranger: Who;

	const as = (who: Who, headers: Record<string, string> = {}) => ({ Authorization: `Bearer ${who.token}`, ...headers });
	const call = (who: Who, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
		portal.request(method, `/api/v1${path}`, { body, headers: as(who, headers) });
	const profileOf = (who: Who, reader: Who) => call(reader, "GET", `/profiles/${who.account.id}`);
	const grant = (body: unknown) => call(owner, "POST", "/shares", body);

	beforeAll(async () => {
		portal = await startTestPortal();
		const people = await Promise.all(
			["olive.owner", "vic.viewer", "eddie.editor", "sandy.stranger"].map((name) => activatedAccount(portal, `${name}@example.com`)),
		);
		[owner, viewer, editor, stranger] = people as unknown as [Who, Who, Who, Who];
		const read = await call(owner, "GET", "/profiles/me");
		await call(
			owner,
			"PATCH",
			"/profiles/me",
			{ name: { givenName: "Olive" }, address: { city: "Austin", country: "US" } },
			{
				"If-Match": read.headers.get("etag") ?? "",
			},
		);
	});
	afterAll(() => portal?.stop());

	it("R8: by default nobody else sees the profile: 404, as if it did not exist", async () => {
		const res = await profileOf(owner, stranger);
		expect(res.status).toBe(404);
		expect(JSON.stringify(res.body)).not.toContain("Olive");
		const write = await call(stranger, "PATCH", `/profiles/${owner.account.id}`, { name: { givenName: "X" } }, { "If-Match": "*" });
		expect(write.status).toBe(404);
	});

	it("R11: the owner grants a viewer, by user name, one section; the viewer sees only that section", async () => {
		const res = await grant({ grantee: { username: viewer.account.username }, role: "viewer", sections: ["name"] });
		expect(res.status).toBe(201);
		expect(res.body).toMatchObject({
			grantee: { accountId: viewer.account.id, username: viewer.account.username },
			role: "viewer",
			sections: ["name"],
		});
		const seen = await profileOf(owner, viewer);
		expect(seen.status).toBe(200);
		expect(seen.body.sections).toEqual(["name"]);
		expect(seen.body.name.givenName).toBe("Olive");
		expect(seen.body).not.toHaveProperty("address");
		expect(seen.body).not.toHaveProperty("contact");
	});

	it("R11: a viewer cannot edit; an editor by email edits only the granted section and never the email", async () => {
		const viewerWrite = await call(
			viewer,
			"PATCH",
			`/profiles/${owner.account.id}`,
			{ name: { givenName: "Hacked" } },
			{ "If-Match": "*" },
		);
		expect(viewerWrite.status).toBe(403);

		const res = await grant({ grantee: { email: "EDDIE.EDITOR@example.com" }, role: "editor", sections: ["address", "contact"] });
		expect(res.status).toBe(201);
		const read = await profileOf(owner, editor);
		expect(read.body.sections).toEqual(["contact", "address"]);
		expect((await call(owner, "GET", "/profiles/me")).body.address.city).toBe("Austin"); // the owner's view is now cached
		const ok = await call(
			editor,
			"PATCH",
			`/profiles/${owner.account.id}`,
			{ address: { city: "Dallas" } },
			{ "If-Match": read.headers.get("etag") ?? "" },
		);
		expect(ok.status).toBe(200);
		expect(ok.body.address.city).toBe("Dallas");
		expect(ok.body).not.toHaveProperty("name");
		const own = await call(owner, "GET", "/profiles/me");
		expect(own.body.address.city).toBe("Dallas"); // R9: the editor's change reaches the owner's next read
		expect(own.headers.get("etag")).toBe(ok.headers.get("etag"));

		const outside = await call(editor, "PATCH", `/profiles/${owner.account.id}`, { name: { givenName: "Eve" } }, { "If-Match": "*" });
		expect(outside.status).toBe(403);
		const email = await call(
			editor,
			"PATCH",
			`/profiles/${owner.account.id}`,
			{ contact: { email: "eddie@evil.example" } },
			{ "If-Match": "*" },
		);
		expect(email.status).toBe(403);

		const mine = await call(owner, "GET", "/profiles/me");
		expect(mine.body.name.givenName).toBe("Olive");
		expect(mine.body.contact.pendingEmail).toBeNull();
		const [revision] = (await call(owner, "GET", "/profiles/me/revisions")).body;
		expect(revision).toMatchObject({
			by: { kind: "account", id: editor.account.id },
			changes: [{ field: "address.city", old: "Austin", new: "Dallas" }],
		});
	});

	it("R11: nobody but the owner can list, grant on or revoke the owner's sharing", async () => {
		const [theirs] = (await call(owner, "GET", "/shares")).body;
		const revoke = await call(editor, "DELETE", `/shares/${theirs.id}`);
		expect(revoke.status).toBe(404);
		expect((await call(editor, "GET", "/shares")).body).toEqual([]);
		expect((await call(owner, "GET", "/shares")).body).toHaveLength(2);
	});

	it("R11: unknown grantees, granting to oneself and bad input are clear 4xx answers that change nothing", async () => {
		const nobody = await grant({ grantee: { username: "no.such.user" }, role: "viewer" });
		expect(nobody.status).toBe(422);
		expect(nobody.body.errors).toEqual([{ field: "grantee", message: "No matching account." }]);
		expect((await grant({ grantee: { username: owner.account.username }, role: "viewer" })).status).toBe(422);
		expect((await grant({ grantee: { username: viewer.account.username }, role: "owner" })).status).toBe(422);
		expect((await grant({ grantee: { username: viewer.account.username }, role: "viewer", sections: ["password"] })).status).toBe(422);
		expect((await grant({ grantee: {}, role: "viewer" })).status).toBe(422);
		expect(
			(await grant({ grantee: { username: viewer.account.username }, role: "viewer", expiresAt: "2020-01-01T00:00:00Z" })).status,
		).toBe(422);
		expect((await call(owner, "GET", "/shares")).body).toHaveLength(2);
	});

	it("R12: a revoke takes effect on the very next request, although the decision was cached", async () => {
		const before = await profileOf(owner, viewer);
		expect(before.status).toBe(200);
		const cached = await profileOf(owner, viewer);
		expect(cached.status).toBe(200);
		const key = `sharing.check:${owner.account.id}:${viewer.account.id}:name:view`;
		expect(await portal.broker.cacher?.get(key)).toEqual({ allowed: true, validUntil: null });
		const grants = (await call(owner, "GET", "/shares")).body as { id: string; grantee: { accountId?: string } }[];
		const id = grants.find((g) => g.grantee.accountId === viewer.account.id)?.id;
		expect((await call(owner, "DELETE", `/shares/${id}`)).status).toBe(204);
		expect((await profileOf(owner, viewer)).status).toBe(404);
		expect(await portal.broker.cacher?.get(key)).toEqual({ allowed: false, validUntil: null });
		expect((await call(owner, "DELETE", `/shares/${id}`)).status).toBe(404);
	});

	it("R12: a sharing change cleans exactly its owner's cached decisions, nobody else's", async () => {
		const byEditor = await call(editor, "POST", "/shares", {
			grantee: { username: viewer.account.username },
			role: "viewer",
			sections: ["name"],
		});
		expect(byEditor.status).toBe(201);
		expect((await profileOf(editor, viewer)).status).toBe(200);
		expect((await profileOf(owner, editor)).status).toBe(200);
		const othersKey = `sharing.check:${editor.account.id}:${viewer.account.id}:name:view`;
		const ownersKey = `sharing.check:${owner.account.id}:${editor.account.id}:address:view`;
		expect(await portal.broker.cacher?.get(othersKey)).toEqual({ allowed: true, validUntil: null });
		expect(await portal.broker.cacher?.get(ownersKey)).toEqual({ allowed: true, validUntil: null });

		const team = await call(owner, "POST", "/teams", { name: "Neighbours" });
		expect((await call(owner, "POST", `/teams/${team.body.id}/members`, { username: stranger.account.username })).status).toBe(201);
		expect(await portal.broker.cacher?.get(ownersKey)).toBeUndefined();
		expect(await portal.broker.cacher?.get(othersKey)).toEqual({ allowed: true, validUntil: null });
		expect((await call(editor, "DELETE", `/shares/${byEditor.body.id}`)).status).toBe(204);
	});

	(infraMode ? it.skip : it)("R12: another node's clean hint drops this node's memory-cached decisions of that owner only", async () => {
		const [a, b] = [owner.account.id, editor.account.id];
		const entry = { allowed: true, validUntil: null };
		await portal.broker.cacher?.set(`sharing.check:${a}:${viewer.account.id}:name:view`, entry, 60);
		await portal.broker.cacher?.set(`sharing.check:${b}:${viewer.account.id}:name:view`, entry, 60);
		await portal.broker.broadcastLocal(SHARING_CACHE_CLEAN_EVENT, { ownerId: a });
		expect(await portal.broker.cacher?.get(`sharing.check:${a}:${viewer.account.id}:name:view`)).toBeUndefined();
		expect(await portal.broker.cacher?.get(`sharing.check:${b}:${viewer.account.id}:name:view`)).toEqual(entry);
		await portal.broker.cacher?.del(`sharing.check:${b}:${viewer.account.id}:name:view`);
	});

	it("R12: an expiry takes effect to the second, even for a cached 'allowed'", async () => {
		const expiresAt = new Date(Date.now() + 2_500).toISOString();
		expect((await grant({ grantee: { username: stranger.account.username }, role: "viewer", expiresAt })).status).toBe(201);
		expect((await profileOf(owner, stranger)).status).toBe(200);
		expect((await profileOf(owner, stranger)).status).toBe(200);
		await new Promise((resolve) => setTimeout(resolve, new Date(expiresAt).getTime() - Date.now() + 10));
		expect((await profileOf(owner, stranger)).status).toBe(404);
		const listed = (await call(owner, "GET", "/shares")).body.find(
			(g: { grantee: { accountId?: string } }) => g.grantee.accountId === stranger.account.id,
		);
		expect(listed.expired).toBe(true);
	});

	it("R11/R12: a team grant covers current members only; removing a member ends access on the next request", async () => {
		const team = await call(owner, "POST", "/teams", { name: "Family" });
		expect(team.status).toBe(201);
		expect((await call(owner, "POST", "/teams", { name: "Family" })).status).toBe(409);
		expect((await grant({ grantee: { teamId: team.body.id }, role: "viewer", sections: ["employment"] })).status).toBe(201);
		expect((await profileOf(owner, viewer)).status).toBe(404);

		const added = await call(owner, "POST", `/teams/${team.body.id}/members`, { username: viewer.account.username });
		expect(added.status).toBe(201);
		expect((await call(owner, "POST", `/teams/${team.body.id}/members`, { email: "VIC.VIEWER@example.com" })).status).toBe(200);
		expect(added.body.members).toEqual([expect.objectContaining({ accountId: viewer.account.id, username: viewer.account.username })]);
		const seen = await profileOf(owner, viewer);
		expect(seen.status).toBe(200);
		expect(seen.body.sections).toEqual(["employment"]);
		expect((await call(viewer, "POST", `/teams/${team.body.id}/members`, { username: stranger.account.username })).status).toBe(404);

		const removed = await call(owner, "DELETE", `/teams/${team.body.id}/members/${viewer.account.id}`);
		expect(removed.status).toBe(204);
		expect((await profileOf(owner, viewer)).status).toBe(404);
		expect((await call(owner, "DELETE", `/teams/${team.body.id}/members/${viewer.account.id}`)).status).toBe(404);
	});

	it("R13: a grantee sees what is shared with them; the owner sees who can see", async () => {
		const received = await call(editor, "GET", "/shares/received");
		expect(received.status).toBe(200);
		expect(received.body).toEqual([
			expect.objectContaining({
				owner: { accountId: owner.account.id, username: owner.account.username },
				role: "editor",
				sections: ["address", "contact"],
				via: { kind: "user" },
			}),
		]);
		expect((await call(stranger, "GET", "/shares/received")).body).toEqual([]);
		const mine = (await call(owner, "GET", "/shares")).body as { grantee: { username?: string; name?: string } }[];
		expect(mine.map((g) => g.grantee.username ?? g.grantee.name)).toEqual(expect.arrayContaining([editor.account.username, "Family"]));
	});

	it("R13: every read or edit by someone else is in the owner's privacy ledger; the owner's own reads are not", async () => {
		const ledger = await call(owner, "GET", "/shares/ledger");
		expect(ledger.status).toBe(200);
		const entries = ledger.body as { actor: { accountId: string; username: string }; action: string; sections: string[] }[];
		expect(entries.every((e) => e.actor.accountId !== owner.account.id)).toBe(true);
		expect(entries).toEqual(
			expect.arrayContaining([
				expect.objectContaining({
					actor: { accountId: viewer.account.id, username: viewer.account.username },
					action: "read",
					sections: ["name"],
				}),
				expect.objectContaining({
					actor: expect.objectContaining({ accountId: editor.account.id }),
					action: "edit",
					sections: ["address"],
				}),
				expect.objectContaining({
					actor: expect.objectContaining({ accountId: viewer.account.id }),
					action: "read",
					sections: ["employment"],
				}),
			]),
		);
		expect((await call(viewer, "GET", "/shares/ledger")).body).toEqual([]);
	});

	it("R12: when sharing cannot answer, a grantee gets 503 and no data (fails closed)", async () => {
		const sharing = portal.broker.getLocalService("sharing");
		expect(sharing).toBeDefined();
		await portal.broker.destroyService(sharing as never);
		try {
			const res = await profileOf(owner, editor);
			expect(res.status).toBe(503);
			expect(JSON.stringify(res.body)).not.toContain("Dallas");
			expect((await call(owner, "GET", "/profiles/me")).status).toBe(200);
		} finally {
			portal.broker.createService(SharingService);
			await portal.broker.waitForServices(["sharing"]);
		}
	});

	it("R11: the personal-data contract covers every sharing table with an account column", async () => {
		const db = (portal.broker.getLocalService("sharing") as unknown as { db: Knex }).db;
		const description = await portal.broker.call<{ categories: { tables: string[] }[] }, { op: string }>("sharing.personalData", {
			op: "describe",
		});
		const described = description.categories.flatMap((c) => c.tables);
		const tables = await db("information_schema.columns")
			.where({ table_schema: "sharing" })
			.whereLike("column_name", "%id")
			.distinct()
			.pluck("table_name");
		for (const table of tables.filter(
			(t: string) => !["outbox", "processed_messages", "knex_migrations", "knex_migrations_lock"].includes(t),
		))
			expect(described).toContain(`sharing.${table}`);
		const exported = await portal.broker.call<{ records: Record<string, unknown[]> }, { op: string; accountId: string }>(
			"sharing.personalData",
			{
				op: "export",
				accountId: owner.account.id,
			},
		);
		expect(exported.records.grantsGiven?.length).toBeGreaterThanOrEqual(4);
		expect(exported.records.teamsOwned).toHaveLength(2);
	});

	it("R12: an uncached check finds the owner's grants through an index, revoked ones included, never by reading the whole table", async () => {
		const db = (portal.broker.getLocalService("sharing") as unknown as { db: Knex }).db;
		let statement: { sql: string; bindings: unknown[] } | undefined;
		const capture = (q: { sql: string; bindings: unknown[] }) => {
			statement ??= q;
		};
		db.on("query", capture);
		try {
			await decisionInputs(db, owner.account.id, viewer.account.id);
		} finally {
			db.off("query", capture);
		}
		const { sql, bindings } = statement as NonNullable<typeof statement>;
		// The bindings are the two account ids (uuids), safe to inline for EXPLAIN.
		const literal = sql.replace(/\$(\d+)/g, (_, n: string) => `'${String(bindings[Number(n) - 1])}'::uuid`);
		const plan = await db.transaction(async (trx) => {
			// On a table this small a scan may be cheapest; what matters is that an index can serve the read.
			await trx.raw("set local enable_seqscan = off");
			const { rows } = await trx.raw<{ rows: { "QUERY PLAN": string }[] }>(`explain ${literal}`);
			return rows.map((r) => r["QUERY PLAN"]).join("\n");
		});
		expect(plan).toContain("grants");
		expect(plan).not.toMatch(/Seq Scan on grants/);
	});
});
