import { Channels, type DeadLetter, type PurchaseEvent } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import { eventually, purchaseEvent, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { recordPurchases } from "../src/purchases";

/** R1–R3: purchase events, from the durable channel and the signed webhook, to accounts. */
describe("identity: purchase events", () => {
	let portal: TestPortal;
	let db: Knex;
	const deadLetters: DeadLetter[] = [];

	beforeAll(async () => {
		portal = await startTestPortal();
		db = (portal.broker.getLocalService("identity") as unknown as { db: Knex }).db;
		const ns = portal.broker.namespace;
		portal.broker.createService({
			name: "dead-letter-probe",
			channels: {
				[Channels.purchaseDead]: {
					group: "dead-letter-probe",
					context: true,
					nats: {
						streamConfig: {
							name: ns ? `${ns.toUpperCase()}_OMTI_PURCHASES` : "OMTI_PURCHASES",
							subjects: [ns ? `${ns}.omti.purchases.>` : "omti.purchases.>"],
						},
					},
					handler(ctx: { params: DeadLetter }) {
						deadLetters.push(ctx.params);
					},
				},
			},
		});
	});
	afterAll(() => portal?.stop());

	const accountsFor = (email: string) => db("identity.accounts").where("email_normalized", email.toLowerCase());
	const productsOf = (accountId: string) => db("identity.account_products").where({ account_id: accountId }).orderBy("product_code");
	const publish = (event: unknown) => portal.broker.sendToChannel(Channels.purchaseCompleted, event);

	it("R1: a purchase for a new email creates exactly one pending account with a user name and a welcome mail", async () => {
		await publish(purchaseEvent({ email: "Ann.Lee@Example.com", product: "RB9", givenName: "Ann" }));
		const [account] = await eventually(async () => {
			const rows = await accountsFor("ann.lee@example.com");
			return rows.length > 0 ? rows : undefined;
		}, "the account");
		expect(account).toMatchObject({ username: "ann.lee", status: "pending", password_hash: null });
		expect(await productsOf(account.id)).toEqual([expect.objectContaining({ product_code: "RB9", product_name: "ReporterBase 9" })]);

		const [welcome] = await portal.mailsFor("ann.lee@example.com");
		expect(welcome?.subject).toBe("Your OMTI Customer Portal account");
		expect(welcome?.text).toContain("Your user name: ann.lee");
		expect(welcome?.links[0]).toMatch(/\/activate\?token=[A-Za-z0-9_-]{43}$/);
	});

	it("R1: the activation token is stored only as a hash and expires after 72 hours", async () => {
		const [welcome] = await portal.mailsFor("ann.lee@example.com");
		const token = new URL(welcome?.links[0] ?? "").searchParams.get("token") ?? "";
		const [account] = await accountsFor("ann.lee@example.com");
		const tokens = await db("identity.tokens").where({ account_id: account.id });
		expect(tokens).toHaveLength(1);
		expect(JSON.stringify(tokens)).not.toContain(token);
		const lifetimeHours = (new Date(tokens[0].expires_at).getTime() - new Date(tokens[0].created_at).getTime()) / 3_600_000;
		expect(lifetimeHours).toBeCloseTo(72, 1);
	});

	it("R1: user names are unique: a second person with the same local part gets another", async () => {
		await portal.purchase(purchaseEvent({ email: "ann.lee@other.example", product: "MR8" }));
		const [other] = await accountsFor("ann.lee@other.example");
		expect(other.username).toBe("ann.lee2");
	});

	it("R2: the same event delivered twice creates one account, one product and one mail", async () => {
		const event = purchaseEvent({ email: "twice@example.com", product: "RB9" });
		await publish(event);
		await publish(event);
		expect((await portal.purchase(event)).status).toBe(202);
		await portal.mailsFor("twice@example.com");
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		const accounts = await accountsFor("twice@example.com");
		expect(accounts).toHaveLength(1);
		expect(await productsOf(accounts[0].id)).toHaveLength(1);
		expect(await portal.mailsFor("twice@example.com")).toHaveLength(1);
		expect(await db("identity.purchase_events").where({ event_id: event.eventId })).toHaveLength(1);
	});

	it("R2: a second purchase by the same email in another letter case adds the product and tells the owner", async () => {
		await portal.purchase(purchaseEvent({ email: "bob@example.com", product: "RB9" }));
		const res = await portal.purchase(purchaseEvent({ email: "BOB@Example.COM", product: "MR8" }));
		expect(res.body).toEqual({ accepted: true, outcome: "product-added" });
		const accounts = await accountsFor("bob@example.com");
		expect(accounts).toHaveLength(1);
		expect((await productsOf(accounts[0].id)).map((p: { product_code: string }) => p.product_code)).toEqual(["MR8", "RB9"]);
		const mails = await portal.mailsFor("bob@example.com", 2);
		expect(mails.map((m) => m.subject)).toEqual([
			"MetaRecords 8 was added to your OMTI Customer Portal account",
			"Your OMTI Customer Portal account",
		]);
	});

	it("R2: concurrent first purchases by one person still make one account", async () => {
		const events = ["RB9", "MR8", "XY1"].map((product) => purchaseEvent({ email: "race@example.com", product }));
		const answers = await Promise.all(events.map((event) => portal.purchase(event)));
		expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
		const accounts = await accountsFor("race@example.com");
		expect(accounts).toHaveLength(1);
		expect(await productsOf(accounts[0].id)).toHaveLength(3);
	});

	it("R1/R2: purchases committed as one group are decided as if one by one", async () => {
		const earlier = purchaseEvent({ email: "grouped.owner@example.com", product: "RB9" });
		await portal.purchase(earlier);
		const first = purchaseEvent({ email: "grouped@example.com", product: "RB9" });
		const group = [
			first,
			purchaseEvent({ email: "GROUPED@example.com", product: "MR8" }),
			purchaseEvent({ email: "grouped@example.com", product: "RB9" }),
			first,
			purchaseEvent({ email: "same.name@one.example", product: "RB9" }),
			purchaseEvent({ email: "same.name@two.example", product: "RB9" }),
			purchaseEvent({ email: "grouped.owner@example.com", product: "MR8" }),
			earlier,
		].map((event) => ({ event, source: "channel" as const }));
		const results = await recordPurchases(db, group, 3_600_000);
		expect(results.map((r) => r.outcome)).toEqual([
			"account-created",
			"product-added",
			"already-owned",
			"duplicate",
			"account-created",
			"account-created",
			"product-added",
			"duplicate",
		]);
		const [grouped] = await accountsFor("grouped@example.com");
		expect(results.slice(0, 4).map((r) => r.accountId)).toEqual(Array(4).fill(grouped.id));
		expect((await productsOf(grouped.id)).map((p: { product_code: string }) => p.product_code)).toEqual(["MR8", "RB9"]);
		expect(await db("identity.tokens").where({ account_id: grouped.id })).toHaveLength(1);
		const [one] = await accountsFor("same.name@one.example");
		const [two] = await accountsFor("same.name@two.example");
		expect([one.username, two.username]).toEqual(["same.name", "same.name2"]);
		const [owner] = await accountsFor("grouped.owner@example.com");
		expect(results[6]?.accountId).toBe(owner.id);
		expect(await productsOf(owner.id)).toHaveLength(2);
		// The facts reach communications: a welcome and a product-added mail for the grouped account.
		const mails = await portal.mailsFor("grouped@example.com", 2);
		expect(mails.map((m) => m.template).sort()).toEqual(["product-added", "welcome"]);
		// Settled on its own (its first user name was taken in the group): its fact carries its account too.
		const [welcome] = await portal.mailsFor("same.name@two.example");
		expect(welcome?.text).toContain("Your user name: same.name2");
	});

	it("R2: an event id seen before is a duplicate even under another email: nothing is created for it", async () => {
		const first = purchaseEvent({ email: "first.owner@example.com", product: "RB9" });
		await portal.purchase(first);
		const reused = { ...first, customer: { ...first.customer, email: "someone.else@example.com" } };
		const res = await portal.purchase(reused);
		expect(res.body).toEqual({ accepted: true, outcome: "duplicate" });
		expect(await accountsFor("someone.else@example.com")).toHaveLength(0);
	});

	it("R1: products are data: an unknown product code still creates the account", async () => {
		const res = await portal.purchase(purchaseEvent({ email: "new-product@example.com", product: "ZZ42" }));
		expect(res.body.outcome).toBe("account-created");
	});

	it("R3: a malformed event is dead-lettered with its reason and the next good event is still processed", async () => {
		const bad = { eventId: "bad-1", product: { code: "RB9" }, customer: { email: "not-an-email" } };
		await publish(bad);
		await publish(purchaseEvent({ email: "after-bad@example.com", product: "RB9" }));
		const letter = await eventually(
			async () => deadLetters.find((l) => (l.original as { eventId?: string }).eventId === "bad-1"),
			"the dead letter",
		);
		expect(letter.reason).toBe("invalid purchase event");
		expect(letter.errors?.map((e) => e.field)).toEqual(expect.arrayContaining(["occurredAt", "orderId", "product.name", "customer.email"]));
		await eventually(async () => ((await accountsFor("after-bad@example.com")).length === 1 ? true : undefined), "the good event");
		expect(await db("identity.purchase_events").where({ event_id: "bad-1" })).toHaveLength(0);
	});

	it("R3: an event dated in the future is refused, through the webhook with 422", async () => {
		const event: PurchaseEvent = {
			...purchaseEvent({ email: "future@example.com", product: "RB9" }),
			occurredAt: new Date(Date.now() + 86_400_000).toISOString(),
		};
		const res = await portal.purchase(event);
		expect(res.status).toBe(422);
		expect(res.body.errors).toEqual([{ field: "occurredAt", message: "The purchase is dated in the future." }]);
		expect(await accountsFor("future@example.com")).toHaveLength(0);
	});

	it("R3: unknown fields in an event are ignored, missing ones are named", async () => {
		const ok = await portal.purchase({ ...purchaseEvent({ email: "extra@example.com", product: "RB9" }), channel: "web" } as PurchaseEvent);
		expect(ok.status).toBe(202);
		const missing = await portal.purchase({ eventId: "x" } as PurchaseEvent);
		expect(missing.status).toBe(422);
		expect(missing.body.errors.map((e: { field: string }) => e.field)).toEqual(
			expect.arrayContaining(["occurredAt", "orderId", "product", "customer"]),
		);
	});
});
