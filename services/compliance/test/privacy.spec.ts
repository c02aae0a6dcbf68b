import { type AuditRecordedMessage, Channels } from "@portal/contracts";
import { eventually, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { compliance, customer, mailWith, type Session, setClock, staff } from "./helpers";

/** R22–R24, R27–R29, R32: consent, disclosures, Global Privacy Control, notices, agreements, questions. */
describe("compliance: consent, disclosures, policy, agreements, questions", () => {
	let portal: TestPortal;
	let ann: Session;
	let bob: Session;
	let officer: Session;
	const audits: AuditRecordedMessage[] = [];

	beforeAll(async () => {
		portal = await startTestPortal();
		portal.broker.createService({
			name: "audit-probe",
			channels: {
				[Channels.auditRecorded]: {
					group: "audit-probe",
					context: true,
					handler(ctx: { params: AuditRecordedMessage }) {
						audits.push(ctx.params);
					},
				},
			},
		});
		[ann, bob] = await Promise.all([customer(portal, "ann@example.com"), customer(portal, "bob@example.com")]);
		officer = await staff(portal, "officer@omti.example");
	});
	afterAll(() => portal?.stop());

	const call = (action: string, params: object, meta: object = {}) => portal.broker.call(action, params, { meta });
	const consent = (who: Session, body: object, headers: Record<string, string> = {}) =>
		portal.request("POST", "/api/v1/privacy/consents", { body, headers: { ...who.headers, ...headers } });
	const disclose = (params: object, meta: object = {}) => call("compliance.disclose", params, meta);

	it("R22: a consent is recorded with purpose, recipient, scope, policy version, time and evidence", async () => {
		const res = await consent(
			ann,
			{ purpose: "share", recipient: "Acme Court Services", scope: ["contact", "company"] },
			{ "User-Agent": "R22-agent" },
		);
		expect(res.status).toBe(201);
		expect(res.body).toMatchObject({
			purpose: "share",
			recipient: "Acme Court Services",
			scope: ["company", "contact"],
			policyVersion: "2026-01",
			source: "user",
			withdrawnAt: null,
			evidence: { ip: expect.stringMatching(/127\.0\.0\.1/), userAgent: "R22-agent" },
		});
		expect(Date.parse(res.body.givenAt)).toBeGreaterThan(Date.now() - 60_000);
		const list = await portal.request("GET", "/api/v1/privacy/consents", { headers: ann.headers });
		expect(list.body.map((c: { id: string }) => c.id)).toContain(res.body.id);
	});

	it("R22: bad consent input gets 422 and records nothing", async () => {
		const before = (await portal.request("GET", "/api/v1/privacy/consents", { headers: ann.headers })).body.length;
		for (const body of [
			{ purpose: "sell-everything", recipient: "Acme", scope: ["contact"] },
			{ purpose: "sale", recipient: "", scope: ["contact"] },
			{ purpose: "sale", recipient: "Acme", scope: [] },
			{ purpose: "sale", recipient: "Acme", scope: ["contact"], extra: true },
		]) {
			const res = await consent(ann, body);
			expect(res.status).toBe(422);
			expect(res.headers.get("content-type")).toContain("application/problem+json");
		}
		expect((await portal.request("GET", "/api/v1/privacy/consents", { headers: ann.headers })).body).toHaveLength(before);
	});

	it("R22: a disclosure is refused without consent and allowed with it, within its scope only", async () => {
		const params = { accountId: bob.id, recipient: "Partner Ltd", purpose: "sale", sections: ["contact"], basis: "consent" };
		await expect(disclose(params)).rejects.toMatchObject({ code: 403, type: "NO_CONSENT" });

		expect((await consent(bob, { purpose: "sale", recipient: "Partner Ltd", scope: ["contact"] })).status).toBe(201);
		const done = (await disclose(params)) as { id: string; basis: string; consentId: string };
		expect(done).toMatchObject({ basis: "consent", consentId: expect.any(String) });
		// Wider than the consent's scope, another recipient or another purpose: refused.
		await expect(disclose({ ...params, sections: ["contact", "address"] })).rejects.toMatchObject({ type: "NO_CONSENT" });
		await expect(disclose({ ...params, recipient: "Other Ltd" })).rejects.toMatchObject({ type: "NO_CONSENT" });
		await expect(disclose({ ...params, purpose: "share" })).rejects.toMatchObject({ type: "NO_CONSENT" });

		const seen = await portal.request("GET", "/api/v1/privacy/disclosures", { headers: bob.headers });
		expect(seen.body).toEqual([
			expect.objectContaining({ id: done.id, recipient: "Partner Ltd", basis: "consent", sections: ["contact"] }),
		]);
		const trail = await eventually(async () => audits.find((a) => a.detail.disclosureId === done.id), "the disclosure's audit entry");
		expect(trail).toMatchObject({ accountId: bob.id, action: "compliance.disclosure.recorded" });
	});

	it("R22: once the consent is withdrawn, the next disclosure is refused; the withdrawal stays in history", async () => {
		const given = await consent(bob, { purpose: "rent", recipient: "Lists Inc", scope: ["contact"] });
		const params = { accountId: bob.id, recipient: "Lists Inc", purpose: "rent", sections: ["contact"], basis: "consent" };
		await disclose(params);
		const withdrawn = await portal.request("DELETE", `/api/v1/privacy/consents/${given.body.id}`, { headers: bob.headers });
		expect(withdrawn.status).toBe(200);
		expect(withdrawn.body).toMatchObject({ id: given.body.id, withdrawnSource: "user", withdrawnAt: expect.any(String) });
		await expect(disclose(params)).rejects.toMatchObject({ type: "NO_CONSENT" });
		const history = (await portal.request("GET", "/api/v1/privacy/consents", { headers: bob.headers })).body;
		expect(history).toContainEqual(expect.objectContaining({ id: given.body.id, withdrawnAt: withdrawn.body.withdrawnAt }));
		// Another person cannot withdraw it, and cannot learn it exists.
		expect((await portal.request("DELETE", `/api/v1/privacy/consents/${given.body.id}`, { headers: ann.headers })).status).toBe(404);
	});

	it("R23: a legal-basis disclosure needs a compliance officer and a reference, and is hidden from the owner until its notice date", async () => {
		const body = {
			accountId: ann.id,
			recipient: "County Court",
			purpose: "subpoena",
			sections: ["contact", "identity"],
			basis: "litigation",
		};
		expect(
			(await portal.request("POST", "/api/v1/admin/disclosures", { body: { ...body, reference: "Case 42" }, headers: ann.headers })).status,
		).toBe(403);
		await expect(disclose({ ...body, reference: "Case 42" })).rejects.toMatchObject({ type: "COMPLIANCE_OFFICER_REQUIRED" });
		expect((await portal.request("POST", "/api/v1/admin/disclosures", { body, headers: officer.headers })).status).toBe(422);

		const notifyAfter = new Date(Date.now() + 30 * 86_400_000).toISOString();
		const res = await portal.request("POST", "/api/v1/admin/disclosures", {
			body: { ...body, reference: "Case 42", notifyAfter },
			headers: officer.headers,
		});
		expect(res.status).toBe(201);
		const row = await compliance(portal).db("compliance.disclosures").where({ id: res.body.id }).first();
		expect(row).toMatchObject({ basis: "litigation", reference: "Case 42", approved_by: officer.id });

		const visible = async () =>
			(await portal.request("GET", "/api/v1/privacy/disclosures", { headers: ann.headers })).body as { id: string }[];
		expect((await visible()).map((d) => d.id)).not.toContain(res.body.id);
		setClock(portal, new Date(Date.parse(notifyAfter) + 1_000));
		try {
			expect(await visible()).toContainEqual(expect.objectContaining({ id: res.body.id, basis: "litigation", reference: "Case 42" }));
		} finally {
			setClock(portal, () => new Date());
		}
		await eventually(async () => audits.find((a) => a.detail.disclosureId === res.body.id && a.actor.id === officer.id), "the audit entry");
	});

	it("R24: a signed-in request with Sec-GPC: 1 withdraws sale and sharing consents, once, with source gpc", async () => {
		const carl = await customer(portal, "carl@example.com");
		const sale = await consent(carl, { purpose: "sale", recipient: "Data Broker", scope: ["contact"] });
		const share = await consent(carl, { purpose: "de-identified-share", recipient: "Research Lab", scope: ["products"] });
		const research = await consent(carl, { purpose: "research", recipient: "Research Lab", scope: ["products"] });

		const first = await portal.request("GET", "/api/v1/privacy/consents", { headers: { ...carl.headers, "Sec-GPC": "1" } });
		expect(first.status).toBe(200);
		const byId = (list: { id: string }[], id: string) => list.find((c) => c.id === id);
		expect(byId(first.body, sale.body.id)).toMatchObject({ withdrawnSource: "gpc", withdrawnAt: expect.any(String) });
		expect(byId(first.body, share.body.id)).toMatchObject({ withdrawnSource: "gpc" });
		expect(byId(first.body, research.body.id)).toMatchObject({ withdrawnAt: null });

		const again = await portal.request("GET", "/api/v1/privacy/consents", { headers: { ...carl.headers, "Sec-GPC": "1" } });
		expect(byId(again.body, sale.body.id)).toEqual(byId(first.body, sale.body.id));
		await expect(
			disclose({ accountId: carl.id, recipient: "Data Broker", purpose: "sale", sections: ["contact"], basis: "consent" }),
		).rejects.toMatchObject({
			type: "NO_CONSENT",
		});
		// An explicit consent given from the GPC browser afterwards is the person's newer choice.
		const explicit = await consent(carl, { purpose: "share", recipient: "Partner Ltd", scope: ["contact"] }, { "Sec-GPC": "1" });
		const later = await portal.request("GET", "/api/v1/privacy/consents", { headers: { ...carl.headers, "Sec-GPC": "1" } });
		expect(byId(later.body, explicit.body.id)).toMatchObject({ withdrawnAt: null });
		const centre = await portal.request("GET", "/api/v1/privacy/centre", { headers: carl.headers });
		expect(centre.body.globalPrivacyControl).toMatchObject({ honoured: true, firstSeenAt: expect.any(String) });
	});

	it("R24: the internal honourGpc action is idempotent", async () => {
		const dana = await customer(portal, "dana@example.com");
		await consent(dana, { purpose: "sale", recipient: "Data Broker", scope: ["contact"] });
		const first = (await call("compliance.honourGpc", { accountId: dana.id })) as { withdrawn: string[] };
		const second = (await call("compliance.honourGpc", { accountId: dana.id })) as { withdrawn: string[] };
		expect(first.withdrawn).toHaveLength(1);
		expect(second.withdrawn).toHaveLength(0);
	});

	it("R27: a compliance officer publishes a version; every account gets a portal notice and a service mail linking to the preferences", async () => {
		const body = {
			version: "2026-11",
			body: "The new policy text.",
			summary: "We now honour Global Privacy Control.",
			// Announced ahead: it takes effect later, so the version in force stays 2026-01 for the tests below.
			effectiveAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
		};
		expect((await portal.request("POST", "/api/v1/admin/policy/versions", { body, headers: ann.headers })).status).toBe(403);
		expect(
			(await portal.request("POST", "/api/v1/admin/policy/versions", { body: { ...body, effectiveAt: "soon" }, headers: officer.headers }))
				.status,
		).toBe(422);
		const res = await portal.request("POST", "/api/v1/admin/policy/versions", { body, headers: officer.headers });
		expect(res.status).toBe(202);
		expect((await portal.request("POST", "/api/v1/admin/policy/versions", { body, headers: officer.headers })).status).toBe(409);

		const status = await eventually(async () => {
			const r = await portal.request("GET", "/api/v1/admin/policy/versions/2026-11", { headers: officer.headers });
			return r.body.noticeStatus === "done" ? r.body : undefined;
		}, "the publication to finish");
		const registry = await compliance(portal).db("compliance.accounts").count({ n: "*" });
		expect(status.noticesSent).toBe(Number(registry[0]?.n));

		const notices = (await portal.request("GET", "/api/v1/policy/notices", { headers: ann.headers })).body;
		expect(notices).toEqual([
			expect.objectContaining({
				version: "2026-11",
				summary: body.summary,
				deliveredAt: expect.any(String),
				acknowledgedAt: null,
				preferencesUrl: `${portal.config.publicUrl}/preferences`,
			}),
		]);
		const mail = await mailWith(portal, "ann@example.com", "policy-notice");
		expect(mail?.text).toContain("We now honour Global Privacy Control.");
		expect(mail?.links).toContain(`${portal.config.publicUrl}/preferences`);

		expect((await portal.request("POST", "/api/v1/policy/notices/2026-11/ack", { headers: ann.headers })).status).toBe(204);
		const acked = (await portal.request("GET", "/api/v1/policy/notices", { headers: ann.headers })).body[0];
		expect(acked.acknowledgedAt).toEqual(expect.any(String));
		expect((await portal.request("POST", "/api/v1/policy/notices/2026-11/ack", { headers: ann.headers })).status).toBe(204);
		expect((await portal.request("GET", "/api/v1/policy/notices", { headers: ann.headers })).body[0].acknowledgedAt).toBe(
			acked.acknowledgedAt,
		);
		expect((await portal.request("POST", "/api/v1/policy/notices/1999-01/ack", { headers: ann.headers })).status).toBe(404);
	});

	it("R27: a publication interrupted by a crash resumes from its last batch, each account notified exactly once", async () => {
		const svc = compliance(portal);
		const accounts = Array.from({ length: 200 }, (_, i) => ({
			account_id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
			email: `bulk-${i}@example.com`,
			registered_at: new Date(),
		}));
		await svc.db.batchInsert("compliance.accounts", accounts, 500);
		const total = Number((await svc.db("compliance.accounts").count({ n: "*" }))[0]?.n);
		// The state a crashed job leaves: the version "publishing", 120 notices committed, the cursor after them.
		const done = accounts.slice(0, 120);
		await svc.db("compliance.policy_versions").insert({
			version: "2026-12",
			body: "Text",
			summary: "Crash test",
			effective_at: new Date(Date.now() + 180 * 86_400_000),
			published_at: new Date(),
			notice_status: "publishing",
			notice_cursor: done[done.length - 1]?.account_id,
			notices_sent: 120,
		});
		await svc
			.db("compliance.policy_notices")
			.insert(done.map((a) => ({ version: "2026-12", account_id: a.account_id, delivered_at: new Date(), mailed_at: new Date() })));
		svc.noticeBatchSize = 25;
		await svc.runNoticeJobs();
		await eventually(
			async () =>
				(await svc.db("compliance.policy_versions").where({ version: "2026-12" }).first()).notice_status === "done" ? true : undefined,
			"done",
		);
		const counts = await svc
			.db("compliance.policy_notices")
			.where({ version: "2026-12" })
			.select("account_id")
			.count({ n: "*" })
			.groupBy("account_id");
		expect(counts).toHaveLength(total);
		expect(counts.every((c) => Number(c.n) === 1)).toBe(true);
		const row = await svc.db("compliance.policy_versions").where({ version: "2026-12" }).first();
		expect(row.notices_sent).toBe(total);
		// Accounts before the cursor were not mailed again; one after it was.
		await eventually(
			async () => {
				const res = await portal.request("GET", "/api/v1/dev/mailbox?to=bulk-199@example.com");
				return res.body.length === 1 ? true : undefined;
			},
			"the notice mail after the cursor",
			60_000,
		);
		const early = await portal.request("GET", "/api/v1/dev/mailbox?to=bulk-5@example.com");
		expect(early.body).toEqual([]);
	});

	it("R28: product agreements are versioned, accepted by purchase or by the user, and decide which terms govern a topic", async () => {
		const agreement = {
			productCode: "MR8",
			version: "1",
			title: "MetaRecords 8 agreement",
			effectiveAt: "2026-01-01T00:00:00Z",
			clauses: [{ topic: "data-retention", text: "Transcripts are kept 7 years." }],
		};
		expect((await portal.request("POST", "/api/v1/admin/agreements", { body: agreement, headers: ann.headers })).status).toBe(403);
		expect((await portal.request("POST", "/api/v1/admin/agreements", { body: agreement, headers: officer.headers })).status).toBe(201);
		const erin = await customer(portal, "erin@example.com", { product: "MR8" });

		const governing = (topic: string) => portal.request("GET", `/api/v1/agreements/governing?topic=${topic}`, { headers: erin.headers });
		expect((await governing("data-retention")).body).toMatchObject({
			governs: "agreement",
			productCode: "MR8",
			version: "1",
			clause: agreement.clauses[0],
		});
		expect((await governing("sale")).body).toMatchObject({ governs: "policy", version: "2026-01" });
		expect((await portal.request("GET", "/api/v1/agreements/governing?topic=data-retention", { headers: ann.headers })).body.governs).toBe(
			"policy",
		);

		const v2 = {
			...agreement,
			version: "2",
			effectiveAt: "2026-06-01T00:00:00Z",
			clauses: [{ topic: "data-retention", text: "Transcripts are kept 5 years." }],
		};
		await portal.request("POST", "/api/v1/admin/agreements", { body: v2, headers: officer.headers });
		expect((await governing("data-retention")).body.version).toBe("1");
		expect((await portal.request("POST", "/api/v1/agreements/MR8/2/accept", { headers: erin.headers })).status).toBe(204);
		expect((await governing("data-retention")).body).toMatchObject({ version: "2", clause: v2.clauses[0] });
		expect((await portal.request("POST", "/api/v1/agreements/MR8/2/accept", { headers: ann.headers })).status).toBe(404);

		const staffView = await portal.request("GET", `/api/v1/admin/accounts/${erin.id}/governing-terms?topic=data-retention`, {
			headers: officer.headers,
		});
		expect(staffView.body).toMatchObject({ governs: "agreement", version: "2" });
		const mine = (await portal.request("GET", "/api/v1/agreements", { headers: erin.headers })).body;
		expect(mine).toEqual([
			expect.objectContaining({ productCode: "MR8", accepted: expect.objectContaining({ version: "2", source: "acceptance" }) }),
		]);
	});

	it("R29: the privacy centre shows every privacy preference in one call, with where to change each", async () => {
		const res = await portal.request("GET", "/api/v1/privacy/centre", { headers: bob.headers });
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({
			policy: { version: "2026-01" },
			consents: expect.arrayContaining([expect.objectContaining({ purpose: "sale", recipient: "Partner Ltd" })]),
			disclosures: expect.arrayContaining([expect.objectContaining({ recipient: "Partner Ltd" })]),
			globalPrivacyControl: { honoured: false },
			requests: { items: [], remainingThisYear: 2, nextAvailableAt: null },
			links: { consents: "/api/v1/privacy/consents", communications: "/api/v1/preferences/communications" },
		});
		expect(res.body.serviceMessages).toMatch(/always sent/);
		expect(res.body.communications).toMatchObject({ marketing: { email: expect.any(Boolean) }, serviceMessages: "always" });
		expect((await portal.request("GET", "/api/v1/privacy/centre")).status).toBe(401);
	});

	it("R32: a privacy question reaches the compliance queue, is acknowledged by mail, and the answer is shown to the user", async () => {
		expect(
			(await portal.request("POST", "/api/v1/privacy/inquiries", { body: { subject: "", message: "x" }, headers: ann.headers })).status,
		).toBe(422);
		expect(
			(
				await portal.request("POST", "/api/v1/privacy/inquiries", {
					body: { subject: "Big", message: "x".repeat(10_001) },
					headers: ann.headers,
				})
			).status,
		).toBe(422);
		const asked = await portal.request("POST", "/api/v1/privacy/inquiries", {
			body: { subject: "Who sees my transcripts?", message: "Do you share transcripts with partners?" },
			headers: ann.headers,
		});
		expect(asked.status).toBe(201);
		expect(asked.body).toMatchObject({ status: "open", answer: null });
		const receipt = await mailWith(portal, "ann@example.com", "privacy-inquiry-received");
		expect(receipt?.text).toContain("Who sees my transcripts?");

		expect((await portal.request("GET", "/api/v1/admin/privacy/inquiries", { headers: ann.headers })).status).toBe(403);
		const queue = await portal.request("GET", "/api/v1/admin/privacy/inquiries", { headers: officer.headers });
		expect(queue.body).toContainEqual(expect.objectContaining({ id: asked.body.id, email: "ann@example.com", status: "open" }));

		const answer = "No. Transcripts are never shared without your consent.";
		const answered = await portal.request("POST", `/api/v1/admin/privacy/inquiries/${asked.body.id}/answer`, {
			body: { answer },
			headers: officer.headers,
		});
		expect(answered.status).toBe(200);
		expect(
			(
				await portal.request("POST", `/api/v1/admin/privacy/inquiries/${asked.body.id}/answer`, {
					body: { answer },
					headers: officer.headers,
				})
			).status,
		).toBe(409);
		const mine = (await portal.request("GET", "/api/v1/privacy/inquiries", { headers: ann.headers })).body;
		expect(mine).toEqual([expect.objectContaining({ id: asked.body.id, status: "answered", answer, answeredAt: expect.any(String) })]);
		await mailWith(portal, "ann@example.com", "privacy-inquiry-answered");
		expect((await portal.request("GET", "/api/v1/privacy/inquiries", { headers: bob.headers })).body).toEqual([]);
	});
});
