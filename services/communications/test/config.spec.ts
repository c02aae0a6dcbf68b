import { randomUUID } from "node:crypto";
import { type AccountCreatedMessage, Channels } from "@portal/contracts";
import { eventually, staffSession, startTestPortal, type TestPortal } from "../../../test/support/portal";

/** R18: the opt-in countries and the default campaign rate come from the configuration. */
describe("communications: configured jurisdictions and campaign rate", () => {
	let portal: TestPortal;
	let admin: string;
	const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

	/** What identity tells communications when a purchase creates an account; answers the resulting preferences. */
	async function accountCreated(country: string) {
		const accountId = randomUUID();
		await portal.broker.sendToChannel(Channels.accountCreated, {
			messageId: randomUUID(),
			occurredAt: new Date().toISOString(),
			accountId,
			username: `user-${accountId.slice(0, 8)}`,
			email: `${accountId.slice(0, 8)}@example.com`,
			country,
			product: { code: "ZZ9", name: "Contract test product" },
			activationToken: "not-a-real-token",
			activationExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
		} satisfies AccountCreatedMessage);
		return eventually(async () => {
			const view = await portal.broker.call<
				{ updatedAt: string | null; marketing: { email: boolean }; jurisdiction: { optInRequired: boolean } },
				Record<string, never>
			>("communications.getPreferences", {}, { meta: { actor: { kind: "account", id: accountId, roles: [], sessionId: "test" } } });
			return view.updatedAt ? view : undefined;
		}, "the account's preferences");
	}

	beforeAll(async () => {
		portal = await startTestPortal({ env: { MARKETING_OPT_IN_COUNTRIES: "BR,ca", CAMPAIGN_RATE_PER_SECOND: "3" } });
		admin = (await staffSession(portal, "config.admin@omti.example", "admin")).token;
	}, 60_000);
	afterAll(() => portal?.stop());

	it("R18: MARKETING_OPT_IN_COUNTRIES replaces the built-in list", async () => {
		for (const [country, optInRequired] of [
			["BR", true],
			["CA", true],
			["DE", false],
			["US", false],
		] as const) {
			const view = await accountCreated(country);
			expect({ country, ...view.jurisdiction, marketing: view.marketing.email }).toEqual({
				country,
				optInRequired,
				marketing: !optInRequired,
			});
		}
	});

	it("R18: a campaign without a rate uses CAMPAIGN_RATE_PER_SECOND; more than the ceiling is refused", async () => {
		const created = await portal.request("POST", "/api/v1/admin/campaigns", {
			body: { productCode: "ZZ9", subject: "Offer", message: "Something nice." },
			headers: auth(admin),
		});
		expect(created.status).toBe(202);
		expect(created.body.ratePerSecond).toBe(3);
		const tooFast = await portal.request("POST", "/api/v1/admin/campaigns", {
			body: { productCode: "ZZ9", subject: "Offer", message: "Something nice.", ratePerSecond: 201 },
			headers: auth(admin),
		});
		expect(tooFast.status).toBe(422);
		expect(tooFast.body.errors).toEqual([{ field: "ratePerSecond", message: "At most 200 mails per second." }]);
	});
});
