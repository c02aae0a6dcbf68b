import { activatedAccount, eventually, type Mail, purchaseEvent, staffSession, startTestPortal, type TestPortal } from "../support/portal";

/**
 * R10 end to end: the new address is confirmed in profile; identity adopts it as the sign-in email
 * and warns the old address; communications sends later mail (marketing included) to the new one.
 */
describe("API: changing the email address", () => {
	let portal: TestPortal;
	let admin: string;
	const password = "correct horse battery staple 42";
	const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

	const signIn = (login: string) => portal.request("POST", "/api/v1/auth/sign-in", { body: { login, password } });
	const mailbox = async (to: string): Promise<Mail[]> =>
		(await portal.request("GET", `/api/v1/dev/mailbox?to=${encodeURIComponent(to)}`)).body as Mail[];
	const auditActions = async (token: string): Promise<{ action: string; detail: Record<string, unknown> }[]> =>
		(await portal.request("GET", "/api/v1/activity/me/audit?limit=200", { headers: auth(token) })).body.entries;

	/** The owner asks for the change in profile and follows the link mailed to the new address. */
	async function changeEmail(token: string, email: string): Promise<void> {
		const read = await eventually(async () => {
			const r = await portal.request("GET", "/api/v1/profiles/me", { headers: auth(token) });
			return r.body?.contact?.email ? r : undefined;
		}, "the seeded profile");
		const patched = await portal.request("PATCH", "/api/v1/profiles/me", {
			body: { contact: { email } },
			headers: { ...auth(token), "If-Match": read.headers.get("etag") ?? "" },
		});
		expect(patched.status).toBe(200);
		// The address may already have mail (another account's): wait for the confirmation itself.
		const link = await eventually(async () => {
			const found = (await mailbox(email)).flatMap((m) => m.links).find((l) => l.includes("/confirm-email?token="));
			return found ? new URL(found) : undefined;
		}, `the confirmation mail to ${email}`);
		const confirmed = await portal.request("POST", "/api/v1/profiles/me/email/confirm", {
			body: { token: link.searchParams.get("token") },
		});
		expect(confirmed.status).toBe(200);
	}

	beforeAll(async () => {
		portal = await startTestPortal();
		admin = (await staffSession(portal, "email.change.admin@omti.example", "admin")).token;
	}, 60_000);
	afterAll(() => portal?.stop());

	it("R10: after confirming, the new address signs in, the old one does not, the old address is told, and later mail goes to the new one", async () => {
		const erin = await activatedAccount(portal, "erin.old@example.com", password);
		await changeEmail(erin.token, "Erin.New@example.com");

		const signedIn = await eventually(async () => {
			const res = await signIn("erin.new@example.com");
			return res.status === 200 ? res : undefined;
		}, "sign-in with the new address");
		expect(signedIn.body.account).toMatchObject({ id: erin.account.id, email: "Erin.New@example.com" });
		const old = await signIn("erin.old@example.com");
		expect(old.status).toBe(401);
		expect(old.body.code).toBe("INVALID_CREDENTIALS");
		expect((await portal.request("GET", "/api/v1/me", { headers: auth(erin.token) })).body.email).toBe("Erin.New@example.com");

		const notice = await eventually(
			async () => (await mailbox("erin.old@example.com")).find((m) => m.template === "security-alert"),
			"the notice to the old address",
		);
		expect(notice.subject).toBe("Security notice for your OMTI Customer Portal account");
		expect(notice.text).toContain("The email address you sign in with was changed to Erin.New@example.com");
		expect((await mailbox("erin.new@example.com")).some((m) => m.template === "security-alert")).toBe(false);

		const audited = await eventually(
			async () => (await auditActions(erin.token)).find((e) => e.action === "identity.email.changed"),
			"the audit entry",
		);
		expect(audited.detail).toMatchObject({ previousEmail: "erin.old@example.com", email: "Erin.New@example.com" });

		// A service mail: the reset link now goes to the new address only.
		expect((await portal.request("POST", "/api/v1/auth/password-reset", { body: { email: "erin.old@example.com" } })).status).toBe(202);
		expect((await portal.request("POST", "/api/v1/auth/password-reset", { body: { email: "erin.new@example.com" } })).status).toBe(202);
		await eventually(async () => (await mailbox("erin.new@example.com")).find((m) => m.template === "password-reset"), "the reset mail");

		// A marketing mail: communications' copy of the address followed the change (a US buyer is opted in).
		const campaign = await portal.request("POST", "/api/v1/admin/campaigns", {
			body: { productCode: "RB9", subject: "Winter offer", message: "RB9 upgrades at 20% off." },
			headers: auth(admin),
		});
		expect(campaign.status).toBe(202);
		await eventually(async () => (await mailbox("erin.new@example.com")).find((m) => m.template === "marketing-offer"), "the offer");

		// Compliance's mail (a privacy-request receipt) follows the change too.
		expect((await portal.request("POST", "/api/v1/privacy/requests", { body: { type: "access" }, headers: auth(erin.token) })).status).toBe(
			202,
		);
		const receipt = await eventually(
			async () => (await mailbox("erin.new@example.com")).find((m) => m.template === "privacy-request-received"),
			"the privacy-request receipt",
		);
		expect(receipt.subject).toMatch(/request/i);
		const atOld = (await mailbox("erin.old@example.com")).map((m) => m.template).sort();
		expect(atOld).toEqual(["security-alert", "welcome"]);
	});

	it("R10/R2: an address another account signs in with is not taken over; the refusal is in the audit trail", async () => {
		const fay = await activatedAccount(portal, "fay.first@example.com", password);
		const gus = await activatedAccount(portal, "gus.second@example.com", password);
		// Gus controls a mailbox that Fay signs in with (a shared address): profile confirms it, identity must not adopt it.
		await changeEmail(gus.token, "FAY.first@example.com");

		const refused = await eventually(
			async () => (await auditActions(gus.token)).find((e) => e.action === "identity.email.change-refused"),
			"the refusal in the audit trail",
		);
		expect(refused.detail).toMatchObject({ email: "FAY.first@example.com" });
		expect((await portal.request("GET", "/api/v1/me", { headers: auth(gus.token) })).body.email).toBe("gus.second@example.com");
		expect((await signIn("gus.second@example.com")).body.account.id).toBe(gus.account.id);
		expect((await signIn("fay.first@example.com")).body.account.id).toBe(fay.account.id);
		expect((await mailbox("gus.second@example.com")).some((m) => m.template === "security-alert")).toBe(false);
	});

	it("R10: the same fact delivered twice changes the address and warns the old one once", async () => {
		const res = await portal.purchase(purchaseEvent({ email: "hal.old@example.com", product: "MR8" }));
		expect(res.status).toBe(202);
		const [welcome] = await portal.mailsFor("hal.old@example.com");
		const token = new URL(welcome?.links[0] ?? "").searchParams.get("token");
		const hal = (await portal.request("POST", "/api/v1/auth/activate", { body: { token, password } })).body;
		const fact = {
			messageId: "6f1f8a52-2f4e-4d7e-9a55-0d1c7c3f4b10",
			occurredAt: new Date().toISOString(),
			accountId: hal.account.id,
			previousEmail: "hal.old@example.com",
			email: "hal.new@example.com",
			confirmedAt: new Date().toISOString(),
		};
		await portal.broker.sendToChannel("profile.email.confirmed", fact);
		await portal.broker.sendToChannel("profile.email.confirmed", fact);
		await eventually(async () => ((await signIn("hal.new@example.com")).status === 200 ? true : undefined), "the adopted address");
		await eventually(
			async () => ((await auditActions(hal.token)).some((e) => e.action === "identity.email.changed") ? true : undefined),
			"the audit entry",
		);
		// Give a second (duplicate) handling time to show up if it were not deduplicated.
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		const alerts = (await mailbox("hal.old@example.com")).filter((m) => m.template === "security-alert");
		expect(alerts).toHaveLength(1);
		expect((await auditActions(hal.token)).filter((e) => e.action === "identity.email.changed")).toHaveLength(1);
	});
});
