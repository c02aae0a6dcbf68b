import { randomUUID } from "node:crypto";
import { type AccountCreatedMessage, Channels, ProfileChannels, type ProfileEmailConfirmedMessage } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import { activatedAccount, eventually, startTestPortal, type TestPortal } from "../../../test/support/portal";

/** R9, R10: the owner reads and corrects their information; every change is a revision; email needs confirming. */
describe("profile: personal information", () => {
	let portal: TestPortal;
	let db: Knex;
	let ann: { token: string; account: { id: string } };
	const confirmed: ProfileEmailConfirmedMessage[] = [];

	const as = (token: string, headers: Record<string, string> = {}) => ({ Authorization: `Bearer ${token}`, ...headers });
	const getMine = () => portal.request("GET", "/api/v1/profiles/me", { headers: as(ann.token) });
	const patchMine = (body: unknown, ifMatch?: string, headers: Record<string, string> = {}) =>
		portal.request("PATCH", "/api/v1/profiles/me", {
			body,
			headers: as(ann.token, { ...(ifMatch ? { "If-Match": ifMatch } : {}), ...headers }),
		});

	beforeAll(async () => {
		portal = await startTestPortal();
		db = (portal.broker.getLocalService("profile") as unknown as { db: Knex }).db;
		portal.broker.createService({
			name: "email-confirmed-probe",
			channels: {
				[ProfileChannels.emailConfirmed]: {
					group: "email-confirmed-probe",
					context: true,
					handler(ctx: { params: ProfileEmailConfirmedMessage }) {
						confirmed.push(ctx.params);
					},
				},
			},
		});
		ann = await activatedAccount(portal, "ann.profile@example.com");
	});
	afterAll(() => portal?.stop());

	it("R9: the profile is seeded from the purchase and the owner reads every section with an ETag", async () => {
		const res = await eventually(async () => {
			const r = await getMine();
			return r.body?.contact?.email ? r : undefined;
		}, "the seeded profile");
		expect(res.status).toBe(200);
		expect(res.headers.get("etag")).toBe(`"${res.body.version}"`);
		expect(res.body).toMatchObject({
			accountId: ann.account.id,
			sections: ["name", "contact", "address", "employment", "preferences"],
			contact: { email: "ann.profile@example.com", phone: null, pendingEmail: null },
			address: expect.objectContaining({ country: "US" }),
		});
	});

	it("R9: every field the purchase carries is seeded once, even when the message arrives twice", async () => {
		const accountId = randomUUID();
		const message: AccountCreatedMessage = {
			messageId: randomUUID(),
			occurredAt: new Date().toISOString(),
			accountId,
			username: "seeded",
			email: "seeded@example.com",
			givenName: "Sam",
			familyName: "Seed",
			company: "Seed Court Reporting",
			country: "ca",
			region: "ON",
			product: { code: "RB9", name: "ReporterBase 9" },
			activationToken: "x".repeat(43),
			activationExpiresAt: new Date().toISOString(),
		};
		await portal.broker.sendToChannel(Channels.accountCreated, message);
		await portal.broker.sendToChannel(Channels.accountCreated, message);
		const row = await eventually(async () => db("profile.profiles").where({ account_id: accountId }).first(), "the seeded row");
		expect(row).toMatchObject({
			given_name: "Sam",
			family_name: "Seed",
			company: "Seed Court Reporting",
			country: "CA",
			region: "ON",
			email: "seeded@example.com",
		});
		await new Promise((resolve) => setTimeout(resolve, 500));
		expect(await db("profile.revisions").where({ account_id: accountId })).toHaveLength(1);
	});

	it("R9: a PATCH with the current ETag changes the fields, normalizes them and records a revision with who and where", async () => {
		const before = await getMine();
		const res = await patchMine(
			{
				name: { familyName: "Lee" },
				contact: { phone: "+1 415 555 0100" },
				address: { street: "1 Market St", city: "San Francisco", region: "CA", postalCode: "94105", country: "us" },
				preferences: { locale: "en-us", timeZone: "America/Los_Angeles" },
			},
			before.headers.get("etag") ?? "",
			{ "User-Agent": "profile-test" },
		);
		expect(res.status).toBe(200);
		expect(res.body.contact.phone).toBe("+14155550100");
		expect(res.body.address).toEqual({ street: "1 Market St", city: "San Francisco", region: "CA", postalCode: "94105", country: "US" });
		expect(res.body.preferences).toEqual({ locale: "en-US", timeZone: "America/Los_Angeles" });
		expect(res.headers.get("etag")).toBe(`"${before.body.version + 1}"`);

		const revisions = await portal.request("GET", "/api/v1/profiles/me/revisions", { headers: as(ann.token) });
		expect(revisions.status).toBe(200);
		const [latest] = revisions.body;
		expect(latest).toMatchObject({
			version: before.body.version + 1,
			by: { kind: "account", id: ann.account.id },
			userAgent: "profile-test",
		});
		expect(latest.ip).toMatch(/127\.0\.0\.1/);
		expect(latest.changes).toEqual(
			expect.arrayContaining([
				{ field: "name.familyName", old: null, new: "Lee" },
				{ field: "contact.phone", old: null, new: "+14155550100" },
				{ field: "address.postalCode", old: null, new: "94105" },
			]),
		);
	});

	it("R9: a stale If-Match gets 412 and changes nothing (no lost update)", async () => {
		const read = await getMine();
		const etag = read.headers.get("etag") ?? "";
		expect((await patchMine({ employment: { company: "First writer" } }, etag)).status).toBe(200);
		const stale = await patchMine({ employment: { company: "Second writer" } }, etag);
		expect(stale.status).toBe(412);
		expect(stale.body.code).toBe("PRECONDITION_FAILED");
		expect((await getMine()).body.employment.company).toBe("First writer");
	});

	it("R9: a PATCH without If-Match is refused with 428 (documented: read first, then send the ETag)", async () => {
		const res = await patchMine({ employment: { jobTitle: "Reporter" } });
		expect(res.status).toBe(428);
		expect(res.body.code).toBe("PRECONDITION_REQUIRED");
		expect((await getMine()).body.employment.jobTitle).toBeNull();
	});

	it("R9/R31: invalid fields get 422 naming each field, and nothing is written", async () => {
		const read = await getMine();
		const res = await patchMine(
			{
				contact: { phone: "555-0100" },
				address: { country: "XX", postalCode: "ABC" },
				preferences: { timeZone: "Mars/Olympus" },
				name: { givenName: "Ann" },
			},
			read.headers.get("etag") ?? "",
		);
		expect(res.status).toBe(422);
		expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
			"address.country",
			"contact.phone",
			"preferences.timeZone",
		]);
		const wrongPostal = await patchMine({ address: { postalCode: "ABC" } }, read.headers.get("etag") ?? "");
		expect(wrongPostal.status).toBe(422);
		expect(wrongPostal.body.errors).toEqual([{ field: "address.postalCode", message: "Not a postal code of United States of America." }]);
		const unknown = await patchMine({ name: { nickname: "A" } }, read.headers.get("etag") ?? "");
		expect(unknown.status).toBe(422);
		const after = await getMine();
		expect(after.body.version).toBe(read.body.version);
	});

	it("R10: a new email is used only after the new address confirms with the single-use link", async () => {
		const read = await getMine();
		const res = await patchMine({ contact: { email: "ann.new@example.com" } }, read.headers.get("etag") ?? "");
		expect(res.status).toBe(200);
		expect(res.body.contact).toMatchObject({ email: "ann.profile@example.com", pendingEmail: "ann.new@example.com" });

		const [mail] = await portal.mailsFor("ann.new@example.com");
		expect(mail?.subject).toBe("Confirm your new email address for the OMTI Customer Portal");
		const link = mail?.links.find((l) => l.includes("/confirm-email?token="));
		expect(link).toBeDefined();
		const token = new URL(link ?? "").searchParams.get("token") ?? "";
		expect(JSON.stringify(await db("profile.email_changes"))).not.toContain(token);

		const ok = await portal.request("POST", "/api/v1/profiles/me/email/confirm", { body: { token } });
		expect(ok.status).toBe(200);
		expect(ok.body).toEqual({ email: "ann.new@example.com" });
		const after = await getMine();
		expect(after.body.contact).toMatchObject({ email: "ann.new@example.com", pendingEmail: null });
		const [revision] = (await portal.request("GET", "/api/v1/profiles/me/revisions", { headers: as(ann.token) })).body;
		expect(revision.changes).toEqual([{ field: "contact.email", old: "ann.profile@example.com", new: "ann.new@example.com" }]);

		const again = await portal.request("POST", "/api/v1/profiles/me/email/confirm", { body: { token } });
		expect(again.status).toBe(410);
		const fact = await eventually(async () => confirmed.find((m) => m.accountId === ann.account.id), "the email-confirmed fact");
		expect(fact).toMatchObject({ previousEmail: "ann.profile@example.com", email: "ann.new@example.com" });
	});

	it("R10: an unknown token is 400 and a replaced request's link no longer works", async () => {
		expect((await portal.request("POST", "/api/v1/profiles/me/email/confirm", { body: { token: "nope" } })).status).toBe(400);
		let read = await getMine();
		await patchMine({ contact: { email: "first.try@example.com" } }, read.headers.get("etag") ?? "");
		read = await getMine();
		await patchMine({ contact: { email: "second.try@example.com" } }, read.headers.get("etag") ?? "");
		const [first] = await portal.mailsFor("first.try@example.com");
		const token = new URL(first?.links.find((l) => l.includes("confirm-email")) ?? "").searchParams.get("token");
		const res = await portal.request("POST", "/api/v1/profiles/me/email/confirm", { body: { token } });
		expect(res.status).toBe(410);
		expect(res.body.code).toBe("TOKEN_SUPERSEDED");
		expect((await getMine()).body.contact).toMatchObject({ email: "ann.new@example.com", pendingEmail: "second.try@example.com" });
	});

	it("R9: the personal-data contract describes every table and exports without token hashes", async () => {
		const description = await portal.broker.call<{ categories: { tables: string[] }[] }, { op: string }>("profile.personalData", {
			op: "describe",
		});
		const described = description.categories.flatMap((c) => c.tables);
		const tables = await db("information_schema.columns").where({ table_schema: "profile", column_name: "account_id" }).pluck("table_name");
		for (const table of tables) expect(described).toContain(`profile.${table}`);
		const exported = await portal.broker.call<{ records: Record<string, unknown[]> }, { op: string; accountId: string }>(
			"profile.personalData",
			{
				op: "export",
				accountId: ann.account.id,
			},
		);
		expect(exported.records.profile).toHaveLength(1);
		expect(exported.records.revisions?.length).toBeGreaterThan(1);
		expect(JSON.stringify(exported)).not.toContain("token_hash");
	});
});
