import type { PersonalDataDescription, PersonalDataExport } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import { runStaffCommand } from "../../../packages/server/src/staff";
import { activatedAccount, eventually, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { bearer, channelProbe, identityDb, signIn } from "./support";

/** R7: staff accounts by command only, roles enforced by the access middleware, staff actions audited. */
describe("identity: staff and personal data", () => {
	let portal: TestPortal;
	let db: Knex;
	let probe: ReturnType<typeof channelProbe>;

	beforeAll(async () => {
		portal = await startTestPortal();
		db = identityDb(portal);
		probe = channelProbe(portal);
	});
	afterAll(() => portal?.stop());

	async function staff(email: string, role: string): Promise<{ token: string; id: string }> {
		const output = await runStaffCommand(portal.broker, ["create", "--email", email, "--role", role]);
		const link = output.split("\n").find((line) => line.includes("/activate?token=")) ?? "";
		const token = new URL(link).searchParams.get("token");
		const res = await portal.request("POST", "/api/v1/auth/activate", { body: { token, password: "staff member passphrase 2026" } });
		expect(res.status).toBe(200);
		return { token: res.body.token, id: res.body.account.id };
	}

	it("R7: `npm run staff -- create` makes a staff account with its role and prints a set-password link; the creation is audited", async () => {
		const output = await runStaffCommand(portal.broker, ["create", "--email", "Sue.Support@omti.example", "--role", "support"]);
		expect(output).toMatch(/Staff account sue\.support \(support\) created/);
		const link = output.split("\n").find((line) => line.startsWith("http")) ?? "";
		expect(link).toMatch(/\/activate\?token=[A-Za-z0-9_-]{43}$/);
		const row = await db("identity.accounts").where({ email_normalized: "sue.support@omti.example" }).first();
		expect(row).toMatchObject({ kind: "staff", roles: ["support"], status: "pending", password_hash: null });

		const activated = await portal.request("POST", "/api/v1/auth/activate", {
			body: { token: new URL(link).searchParams.get("token"), password: "staff member passphrase 2026" },
		});
		expect(activated.status).toBe(200);
		const me = await portal.request("GET", "/api/v1/me", { headers: bearer(activated.body.token) });
		expect(me.body).toMatchObject({ username: "sue.support", roles: ["support"] });

		await eventually(async () => probe.audit.find((a) => a.accountId === row.id && a.action === "identity.staff.created"), "staff audit");
	});

	it("R7: the command refuses unknown roles and an email that already has an account", async () => {
		await expect(runStaffCommand(portal.broker, ["create", "--email", "x@omti.example", "--role", "root"])).rejects.toThrow(/unknown role/);
		await activatedAccount(portal, "customer.taken@example.com");
		await expect(runStaffCommand(portal.broker, ["create", "--email", "Customer.Taken@example.com", "--role", "admin"])).rejects.toThrow(
			/already exists/,
		);
		expect(await db("identity.accounts").where({ kind: "staff", email_normalized: "x@omti.example" })).toHaveLength(0);
	});

	it("R7: staff accounts cannot be created through the public API", async () => {
		const customer = await activatedAccount(portal, "sneaky.one@example.com");
		const res = await portal.request("POST", "/api/v1/admin/staff", {
			headers: bearer(customer.token),
			body: { email: "evil@example.com", role: "admin" },
		});
		expect(res.status).toBe(404);
		// Even a direct call marked as coming from the gateway is refused by the access middleware.
		const direct = Promise.resolve().then(() =>
			portal.broker.call(
				"identity.createStaff",
				{ email: "evil@example.com", role: "admin" },
				{ headers: { "x-portal-public-route": "1" } },
			),
		);
		await expect(direct).rejects.toMatchObject({ code: 403, type: "NOT_PUBLIC" });
		expect(await db("identity.accounts").where({ email_normalized: "evil@example.com" })).toHaveLength(0);
	});

	it("R7: role checks: support finds a customer's account (audited on that account); a customer or a compliance officer gets 403", async () => {
		const customer = await activatedAccount(portal, "looked.up@example.com");
		const support = await staff("sam.support@omti.example", "support");
		const compliance = await staff("cora.compliance@omti.example", "compliance");

		const found = await portal.request("GET", "/api/v1/admin/accounts?q=looked.up@example.com", { headers: bearer(support.token) });
		expect(found.status).toBe(200);
		expect(found.body).toMatchObject({ id: customer.account.id, username: "looked.up", kind: "customer", mfa: false });
		expect(JSON.stringify(found.body)).not.toMatch(/hash|secret/i);
		const audit = await eventually(
			async () => probe.audit.find((a) => a.accountId === customer.account.id && a.action === "identity.account.viewed"),
			"staff action audit",
		);
		expect(audit.actor).toEqual({ kind: "staff", id: support.id });

		expect((await portal.request("GET", "/api/v1/admin/accounts?q=looked.up", { headers: bearer(customer.token) })).status).toBe(403);
		expect((await portal.request("GET", "/api/v1/admin/accounts?q=looked.up", { headers: bearer(compliance.token) })).status).toBe(403);
		expect((await portal.request("GET", "/api/v1/admin/accounts?q=looked.up")).status).toBe(401);
		expect((await portal.request("GET", "/api/v1/admin/accounts?q=nobody.known", { headers: bearer(support.token) })).status).toBe(404);
	});

	it("R26: personalData describes every identity table with an account_id and exports without hashes, secrets or tokens", async () => {
		const description = await portal.broker.call<PersonalDataDescription, object>("identity.personalData", { op: "describe" });
		const listed = new Set(description.categories.flatMap((c) => c.tables));
		const withAccount: { table_name: string }[] = await db("information_schema.columns")
			.where({ table_schema: "identity", column_name: "account_id" })
			.select("table_name");
		for (const { table_name } of withAccount) expect(listed).toContain(`identity.${table_name}`);
		expect(listed).toContain("identity.accounts");

		const owner = await activatedAccount(portal, "export.me@example.com");
		const secret = (await portal.request("POST", "/api/v1/auth/totp", { headers: bearer(owner.token) })).body.secret as string;
		await portal.request("POST", "/api/v1/auth/password-reset", { body: { email: "export.me@example.com" } });
		await signIn(portal, "export.me", owner.password);
		const exported = await portal.broker.call<PersonalDataExport, object>("identity.personalData", {
			op: "export",
			accountId: owner.account.id,
		});
		expect(exported.service).toBe("identity");
		expect(exported.records.accounts).toEqual([expect.objectContaining({ username: "export.me", email: "export.me@example.com" })]);
		expect(exported.records.products).toEqual([expect.objectContaining({ product_code: "RB9" })]);
		expect(exported.records.purchaseEvents).toHaveLength(1);
		expect(exported.records.sessions).toHaveLength(2);
		const text = JSON.stringify(exported);
		const account = await db("identity.accounts").where({ id: owner.account.id }).first();
		const hashes = (await db("identity.sessions").where({ account_id: owner.account.id })).map((s) => s.token_hash);
		const tokenHashes = (await db("identity.tokens").where({ account_id: owner.account.id })).map((t) => t.token_hash);
		for (const value of [account.password_hash, secret, owner.token, ...hashes, ...tokenHashes]) expect(text).not.toContain(value);
		expect(text).not.toMatch(/password_hash|token_hash|totp_secret|code_hash/);
	});
});
