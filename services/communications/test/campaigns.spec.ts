import { eventually, purchaseEvent, staffSession, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { CommunicationsService } from "../src";

/** Campaign sending (R18): throttled to the campaign's rate, and resumed from the database after a restart. */
describe("communications: campaigns", () => {
	let portal: TestPortal;
	let admin: string;
	const holders = ["c1@example.com", "c2@example.com", "c3@example.com", "c4@example.com"];

	const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

	async function optedInHolder(email: string): Promise<void> {
		expect((await portal.purchase(purchaseEvent({ email, product: "CP1", country: "US" }))).status).toBe(202);
		const [welcome] = await portal.mailsFor(email);
		const token = new URL(welcome?.links[0] ?? "").searchParams.get("token");
		const activated = await portal.request("POST", "/api/v1/auth/activate", {
			body: { token, password: "correct horse battery staple 42" },
		});
		const put = await portal.request("PUT", "/api/v1/preferences/communications", {
			body: { marketing: { email: true } },
			headers: auth(activated.body.token),
		});
		expect(put.status).toBe(200);
	}

	const offersTo = async (email: string) => {
		const res = await portal.request("GET", `/api/v1/dev/mailbox?to=${encodeURIComponent(email)}`);
		return (res.body as { template: string }[]).filter((m) => m.template === "marketing-offer").length;
	};

	beforeAll(async () => {
		portal = await startTestPortal();
		admin = (await staffSession(portal, "campaigns@omti.example", "admin")).token;
		for (const email of holders) await optedInHolder(email);
	}, 60_000);
	afterAll(async () => {
		await portal?.stop();
	});

	it("R18: a campaign is throttled to its rate and resumes after communications restarts, each holder getting one offer", async () => {
		const started = Date.now();
		const created = await portal.request("POST", "/api/v1/admin/campaigns", {
			body: { productCode: "CP1", subject: "Slow offer", message: "One per second.", ratePerSecond: 1 },
			headers: auth(admin),
		});
		expect(created.status).toBe(202);
		const id = created.body.id as string;
		const report = async () => (await portal.request("GET", `/api/v1/admin/campaigns/${id}`, { headers: auth(admin) })).body;

		// After the first batch, the rest waits: one mail per second.
		const partial = await eventually(async () => {
			const r = await report();
			return r.report.recipients === 4 && r.report.pending < 4 ? r : undefined;
		}, "the first batch");
		expect(partial.status).toBe("sending");
		expect(partial.report.pending).toBeGreaterThanOrEqual(2);

		// The service stops mid-campaign and a new instance takes over from the database.
		const old = portal.broker.getLocalService("communications");
		if (!old) throw new Error("communications is not running");
		await portal.broker.destroyService(old);
		portal.broker.createService(CommunicationsService);
		await portal.broker.waitForServices(["communications"], 10_000);

		const done = await eventually(
			async () => {
				const r = await report();
				return r.status === "done" && r.report.queued === 0 ? r : undefined;
			},
			"the campaign to finish",
			20_000,
		);
		expect(done.report).toMatchObject({ recipients: 4, pending: 0, sent: 4, suppressed: {} });
		// Four batches of one, a second apart: at least three seconds.
		expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
		for (const email of holders) expect(await offersTo(email)).toBe(1);

		const list = await portal.request("GET", "/api/v1/admin/campaigns", { headers: auth(admin) });
		expect(list.body.map((c: { id: string }) => c.id)).toEqual([id]);
	}, 40_000);

	it("R18: an unknown campaign is a 404 problem, a malformed id a 422", async () => {
		const missing = await portal.request("GET", "/api/v1/admin/campaigns/00000000-0000-4000-8000-000000000000", { headers: auth(admin) });
		expect(missing.status).toBe(404);
		expect((await portal.request("GET", "/api/v1/admin/campaigns/nope", { headers: auth(admin) })).status).toBe(422);
	});
});
