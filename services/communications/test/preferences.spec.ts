import { randomUUID } from "node:crypto";
import { Channels } from "@portal/contracts";
import { eventually, httpRequest, purchaseEvent, staffSession, startTestPortal, type TestPortal } from "../../../test/support/portal";

/**
 * Preferences, jurisdiction defaults, one-click unsubscribe and campaigns (R18–R20), through the
 * gateway as the portal UI, a mail client and a staff member would use them. Mail is captured.
 */
describe("communications: preferences, unsubscribe and campaigns", () => {
	let portal: TestPortal;
	let admin: string;
	let de: Customer;
	let us: Customer;

	interface Customer {
		email: string;
		token: string;
		accountId: string;
	}

	const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

	/** A customer from `country` who bought `product`, activated through the welcome mail. */
	async function customer(email: string, country: string, product = "RB9"): Promise<Customer> {
		const res = await portal.purchase(purchaseEvent({ email, product, country, givenName: email.split("@")[0] }));
		expect(res.status).toBe(202);
		const [welcome] = await portal.mailsFor(email);
		const token = new URL(welcome?.links[0] ?? "").searchParams.get("token");
		const activated = await portal.request("POST", "/api/v1/auth/activate", {
			body: { token, password: "correct horse battery staple 42" },
		});
		expect(activated.status).toBe(200);
		return { email, token: activated.body.token, accountId: activated.body.account.id };
	}

	/** Staff come only from identity's `createStaff` (the `npm run staff` command); the admin sets a password through the link. */
	async function staffAdmin(): Promise<string> {
		return (await staffSession(portal, "campaign.admin@omti.example", "admin")).token;
	}

	/** What identity tells communications when a purchase creates an account (the channel contract). */
	async function accountCreated(country: string | undefined) {
		const accountId = randomUUID();
		await portal.broker.sendToChannel(Channels.accountCreated, {
			messageId: randomUUID(),
			occurredAt: new Date().toISOString(),
			accountId,
			username: `user-${accountId.slice(0, 8)}`,
			email: `${accountId.slice(0, 8)}@example.com`,
			...(country ? { country } : {}),
			product: { code: "ZZ9", name: "Contract test product" },
			activationToken: "not-a-real-token",
			activationExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
		});
		return eventually(async () => {
			const view = await portal.broker.call<{ updatedAt: string | null }, Record<string, never>>(
				"communications.getPreferences",
				{},
				{
					meta: { actor: { kind: "account", id: accountId, roles: [], sessionId: "test" } },
				},
			);
			return view.updatedAt ? view : undefined;
		}, "the account's preferences");
	}

	const offers = async (email: string) => {
		const res = await portal.request("GET", `/api/v1/dev/mailbox?to=${encodeURIComponent(email)}`);
		return (
			res.body as { template: string; from: string; text: string; html: string; headers: Record<string, string>; links: string[] }[]
		).filter((m) => m.template === "marketing-offer");
	};

	async function campaign(body: Record<string, unknown>) {
		const created = await portal.request("POST", "/api/v1/admin/campaigns", { body, headers: auth(admin) });
		expect(created.status).toBe(202);
		return eventually(async () => {
			const res = await portal.request("GET", `/api/v1/admin/campaigns/${created.body.id}`, { headers: auth(admin) });
			return res.body.status === "done" && res.body.report.queued === 0 ? res.body : undefined;
		}, "the campaign to finish");
	}

	beforeAll(async () => {
		portal = await startTestPortal();
		admin = await staffAdmin();
		de = await customer("dora.de@example.com", "DE");
		us = await customer("uma.us@example.com", "US");
	}, 60_000);
	afterAll(async () => {
		await portal?.stop();
	});

	it("R18: the jurisdiction sets the default: opt-in countries (DE, GB, CA) and unknown countries start opted out, the US opted in", async () => {
		for (const [country, email] of [
			["DE", false],
			["GB", false],
			["CA", false],
			[undefined, false],
			["US", true],
			["MX", true],
		] as const) {
			const view = await accountCreated(country);
			expect(view).toMatchObject({
				marketing: { email },
				serviceMessages: "always",
				jurisdiction: { country: country ?? null, optInRequired: !email },
				history: [{ source: email ? "default" : "jurisdiction-default", marketing: { email } }],
			});
		}
	});

	it("R18: the country of the purchase reaches communications (identity forwards it on account creation)", async () => {
		const prefs = await portal.request("GET", "/api/v1/preferences/communications", { headers: auth(de.token) });
		expect(prefs.status).toBe(200);
		expect(prefs.body).toMatchObject({
			marketing: { email: false },
			topics: { RB9: true },
			jurisdiction: { country: "DE", optInRequired: true },
		});
	});

	it("R18: an explicit opt-in is recorded with time, source and request details", async () => {
		const res = await portal.request("PUT", "/api/v1/preferences/communications", {
			body: { marketing: { email: true }, locale: "en" },
			headers: { ...auth(us.token), "User-Agent": "preferences-test" },
		});
		expect(res.status).toBe(200);
		expect(res.body.marketing.email).toBe(true);
		const exported = await portal.broker.call<{ records: Record<string, Record<string, unknown>[]> }, { op: "export"; accountId: string }>(
			"communications.personalData",
			{ op: "export", accountId: us.accountId },
		);
		const change = exported.records.preference_changes?.at(-1);
		expect(change).toMatchObject({
			source: "account",
			marketing_email: true,
			evidence: { userAgent: "preferences-test", actor: { kind: "account", id: us.accountId } },
		});
		expect(Date.now() - new Date(change?.at as string).getTime()).toBeLessThan(60_000);
	});

	it("R19: the preferences say service messages are always sent, and refuse to turn them off", async () => {
		const before = await portal.request("GET", "/api/v1/preferences/communications", { headers: auth(us.token) });
		expect(before.body.serviceMessagesNote).toMatch(/always sent and cannot be turned off/);
		const refused = await portal.request("PUT", "/api/v1/preferences/communications", {
			body: { marketing: { email: false }, serviceMessages: "never" },
			headers: auth(us.token),
		});
		expect(refused.status).toBe(422);
		expect(refused.headers.get("content-type")).toMatch(/application\/problem\+json/);
		expect(refused.body.errors[0].field).toBe("serviceMessages");
		const after = await portal.request("GET", "/api/v1/preferences/communications", { headers: auth(us.token) });
		expect(after.body.marketing.email).toBe(true);
		expect(after.body.history).toHaveLength(before.body.history.length);
	});

	it("R18: a topic must be a product the account holds; bad input changes nothing", async () => {
		const res = await portal.request("PUT", "/api/v1/preferences/communications", {
			body: { topics: { XX1: false } },
			headers: auth(us.token),
		});
		expect(res.status).toBe(422);
		expect(res.body.errors).toEqual([{ field: "topics.XX1", message: expect.stringMatching(/XX1/) }]);
		expect((await portal.request("GET", "/api/v1/preferences/communications")).status).toBe(401);
	});

	it("R18: only an admin can send a campaign", async () => {
		const body = { productCode: "RB9", subject: "Hi", message: "An offer" };
		expect((await portal.request("POST", "/api/v1/admin/campaigns", { body })).status).toBe(401);
		expect((await portal.request("POST", "/api/v1/admin/campaigns", { body, headers: auth(us.token) })).status).toBe(403);
		const bad = await portal.request("POST", "/api/v1/admin/campaigns", { body: { ...body, ratePerSecond: 0 }, headers: auth(admin) });
		expect(bad.status).toBe(422);
		expect((await portal.request("GET", "/api/v1/admin/campaigns", { headers: auth(admin) })).body).toEqual([]);
	});

	it("R18: a German customer gets no offer until they opt in; then it comes from the marketing sender with one-click unsubscribe (R20)", async () => {
		const first = await campaign({ productCode: "RB9", subject: "Winter offer", message: "RB9 upgrades at 20% off <b>now</b>." });
		expect(first.report).toMatchObject({ recipients: 2, sent: 1, suppressed: { "no-consent": 1 } });
		expect(await offers(de.email)).toHaveLength(0);
		const [usOffer] = await offers(us.email);
		expect(usOffer?.from).toBe("OMTI News <news@omti.example>");

		const optIn = await portal.request("PUT", "/api/v1/preferences/communications", {
			body: { marketing: { email: true }, locale: "de" },
			headers: { ...auth(de.token), "User-Agent": "preferences-test" },
		});
		expect(optIn.status).toBe(200);
		expect(optIn.body.marketing.email).toBe(true);
		expect(optIn.body.history.map((h: { source: string }) => h.source)).toEqual(["jurisdiction-default", "account"]);

		const second = await campaign({ productCode: "RB9", subject: "Spring offer", message: "RB9 & friends <script>x</script>" });
		expect(second.report).toMatchObject({ recipients: 2, sent: 2, suppressed: {} });
		const [offer] = await offers(de.email);
		expect(offer?.from).toBe("OMTI News <news@omti.example>");
		expect(offer?.text).toMatch(/^Guten Tag dora\.de,/);
		expect(offer?.html).toContain("RB9 &amp; friends &lt;script&gt;x&lt;/script&gt;");
		const unsubscribeUrl = new URL(`${portal.url}/api/v1/unsubscribe?token=`);
		expect(offer?.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
		const headerUrl = /^<(.+)>$/.exec(offer?.headers["List-Unsubscribe"] ?? "")?.[1] ?? "";
		expect(headerUrl.startsWith(unsubscribeUrl.href)).toBe(true);
		expect(offer?.links).toContain(headerUrl);
		const hrefs = [...(offer?.html ?? "").matchAll(/href="([^"]+)"/g)].map((m) =>
			(m[1] ?? "").replace(/&#x3D;/g, "=").replace(/&amp;/g, "&"),
		);
		expect(hrefs).toContain(headerUrl);
	});

	it("R20: the unsubscribe page shows a confirmation and changes nothing by being fetched", async () => {
		const [offer] = await offers(us.email);
		const url = /^<(.+)>$/.exec(offer?.headers["List-Unsubscribe"] ?? "")?.[1] ?? "";
		const page = await httpRequest(url, "GET");
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toMatch(/^text\/html/);
		expect(page.body).toContain(`<form method="post"`);
		expect(page.body).toContain(us.email);
		const prefs = await portal.request("GET", "/api/v1/preferences/communications", { headers: auth(us.token) });
		expect(prefs.body.marketing.email).toBe(true);
	});

	it("R20: a forged or other-account token is refused and changes nothing", async () => {
		const [offer] = await offers(us.email);
		const token = new URL(/^<(.+)>$/.exec(offer?.headers["List-Unsubscribe"] ?? "")?.[1] ?? "").searchParams.get("token") ?? "";
		const [, , issued, mac] = token.split(".");
		const forged = `${token.slice(0, -4)}${token.endsWith("0000") ? "1111" : "0000"}`;
		const otherAccount = `u1.${de.accountId}.${issued}.${mac}`;
		const reissued = `u1.${us.accountId}.${(Number.parseInt(issued ?? "0", 36) + 60).toString(36)}.${mac}`;
		for (const bad of [forged, otherAccount, reissued, "nonsense"]) {
			const res = await httpRequest(`${portal.url}/api/v1/unsubscribe?token=${encodeURIComponent(bad)}`, "POST", {
				raw: "List-Unsubscribe=One-Click",
				headers: { "Content-Type": "application/x-www-form-urlencoded" },
			});
			expect(res.status).toBe(400);
			expect(res.body.code).toBe("INVALID_TOKEN");
		}
		for (const who of [us, de]) {
			const prefs = await portal.request("GET", "/api/v1/preferences/communications", { headers: auth(who.token) });
			expect(prefs.body.marketing.email).toBe(true);
		}
	});

	it("R20: a one-click POST from an outside client with no cookies unsubscribes at once", async () => {
		const [offer] = await offers(us.email);
		const url = /^<(.+)>$/.exec(offer?.headers["List-Unsubscribe"] ?? "")?.[1] ?? "";
		// What a mailbox provider sends (RFC 8058): form-encoded body, no cookies, no session, no CSRF token.
		const res = await fetch(url, {
			method: "POST",
			headers: { "Content-Type": "application/x-www-form-urlencoded" },
			body: "List-Unsubscribe=One-Click",
			redirect: "manual",
		});
		expect(res.status).toBe(200);
		expect(await res.text()).toContain("You are unsubscribed");
		const prefs = await portal.request("GET", "/api/v1/preferences/communications", { headers: auth(us.token) });
		expect(prefs.body.marketing.email).toBe(false);
		expect(prefs.body.history.at(-1)).toMatchObject({ source: "unsubscribe-link", marketing: { email: false } });
		// Repeating it (clients retry) is harmless and records nothing new.
		expect((await fetch(url, { method: "POST", body: "List-Unsubscribe=One-Click" })).status).toBe(200);
		const again = await portal.request("GET", "/api/v1/preferences/communications", { headers: auth(us.token) });
		expect(again.body.history).toHaveLength(prefs.body.history.length);

		const third = await campaign({ productCode: "RB9", subject: "Last chance", message: "Still 20% off." });
		expect(third.report).toMatchObject({ recipients: 2, sent: 1, suppressed: { unsubscribed: 1 } });
		expect((await offers(us.email)).map((m) => m.text)).not.toContainEqual(expect.stringContaining("Still 20% off."));
	});

	it("R19: service mail still goes to an unsubscribed account", async () => {
		const res = await portal.purchase(purchaseEvent({ email: us.email, product: "TP1" }));
		expect(res.status).toBe(202);
		const mails = await eventually(async () => {
			const box = await portal.request("GET", `/api/v1/dev/mailbox?to=${encodeURIComponent(us.email)}`);
			return (box.body as { template: string }[]).some((m) => m.template === "product-added") ? box.body : undefined;
		}, "the product-added mail");
		expect(mails[0]).toMatchObject({ template: "product-added", from: "OMTI Customer Portal <portal@omti.example>", kind: "service" });
		expect(mails[0].headers["List-Unsubscribe"]).toBeUndefined();
	});

	it("R18: a product topic turned off suppresses offers about that product only", async () => {
		const off = await portal.request("PUT", "/api/v1/preferences/communications", {
			body: { topics: { RB9: false } },
			headers: auth(de.token),
		});
		expect(off.status).toBe(200);
		expect(off.body).toMatchObject({ marketing: { email: true }, topics: { RB9: false } });
		const report = await campaign({ productCode: "RB9", subject: "Topic test", message: "Another RB9 offer." });
		expect(report.report.suppressed).toEqual({ unsubscribed: 1, "topic-off": 1 });
	});

	it("R18: personal data covers preferences, their history and the message log, without mail bodies", async () => {
		const exported = await portal.broker.call<{ records: Record<string, Record<string, unknown>[]> }, { op: "export"; accountId: string }>(
			"communications.personalData",
			{ op: "export", accountId: de.accountId },
		);
		expect(exported.records.preferences?.[0]).toMatchObject({ marketing_email: true, topics: { RB9: false }, locale: "de" });
		expect(exported.records.preference_changes?.map((c) => c.source)).toEqual(["jurisdiction-default", "account", "account"]);
		expect(exported.records.mails?.map((m) => m.template)).toEqual(expect.arrayContaining(["welcome", "marketing-offer"]));
		expect(JSON.stringify(exported)).not.toMatch(/token=/);
	});
});
