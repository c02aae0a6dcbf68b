import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import {
	type AccountCreatedMessage,
	type Actor,
	Channels,
	type PersonalDataDescription,
	type PersonalDataExportPage,
	type PortalMeta,
	type ProductAddedMessage,
	ProfileChannels,
	type ProfileEmailConfirmedMessage,
} from "@portal/contracts";
import {
	Conflict,
	Database,
	type DatabaseThis,
	DomainMetric,
	defineService,
	Forbidden,
	firstDelivery,
	Gone,
	type Knex,
	NotFound,
	Outbox,
	type OutboxThis,
	portalConfig,
	RateLimited,
	Unauthorized,
	Unavailable,
	ValidationError,
} from "@portal/platform";
import type { Context } from "moleculer";
import { migrations } from "../migrations";
import { type AgreementRow, accept, agreementsOf, recordPurchase, toAgreement } from "./agreements.repo";
import { addDays, addMonths, type Clock, systemClock } from "./clock";
import {
	consentsOf,
	coveringConsent,
	gpcSignalOf,
	honourGpc,
	insertConsent,
	insertDisclosure,
	toConsent,
	toDisclosure,
	visibleDisclosures,
	withdrawConsent,
} from "./consents.repo";
import { type DescribedService, describeAll, inventoryStream } from "./inventory";
import { acknowledge, noticeBatch, noticesOf, policyInForce, publishingVersions, toPolicy } from "./policy.repo";
import {
	historyOf,
	lockAccount,
	openRequestCounts,
	recordStatus,
	requestById,
	requestsOf,
	requestsWithin,
	toRequest,
} from "./requests.repo";
import {
	type AgreementClause,
	CONSENT_PURPOSES,
	type DiscloseParams,
	type InquiryRow,
	LEGAL_BASES,
	type PrivacyRequestRow,
	SECTIONS,
} from "./types";

type Ctx<P = unknown> = Context<P, PortalMeta>;

interface Methods {
	now(): Date;
	signedIn(ctx: Ctx): Promise<string>;
	audit(
		trx: Knex.Transaction,
		accountId: string,
		action: string,
		actor: { kind: string; id: string },
		detail: Record<string, unknown>,
	): Promise<void>;
	mail(trx: Knex.Transaction, accountId: string, template: string, key: string, data: Record<string, string>): Promise<boolean>;
	relaySoon(): void;
	runNoticeJobs(): Promise<void>;
	purgeExpiredRequests(): Promise<number>;
	updateRequestGauges(): Promise<void>;
	ownRequest(ctx: Ctx, id: string): Promise<PrivacyRequestRow>;
}
interface Vars {
	clock: Clock;
	/** Accounts per notice batch (one transaction each). */
	noticeBatchSize: number;
	noticeTimer?: NodeJS.Timeout;
	noticeRun?: Promise<void>;
}
type ComplianceThis = DatabaseThis & OutboxThis & Methods & Vars;

/** CCPA (R25): two access requests per rolling 12 months, 45 days to answer, once extendable by 45. */
const REQUESTS_PER_YEAR = 2;
const DUE_DAYS = 45;
const EXTENSION_DAYS = 45;
const RECORD_MONTHS = 24;
/** How long the released inventory stays downloadable (R26: the link expires). */
const DOWNLOAD_DAYS = 7;
const REAUTH_SECONDS = 600;
const NOTICE_BATCH = 500;
const JOB_INTERVAL_MS = 5_000;

const text = (max: number, optional = false) => ({ type: "string", trim: true, min: 1, max, optional }) as const;
const sections = { type: "array", min: 1, max: SECTIONS.length, unique: true, items: { type: "enum", values: [...SECTIONS] } } as const;
const recipient = { type: "string", trim: true, min: 1, max: 200, pattern: /^[\p{L}\p{N} .,&'()/-]+$/u } as const;

const actorOf = (ctx: Ctx): Actor | undefined => ctx.meta.actor;

const ComplianceService = defineService<ComplianceThis>({
	name: "compliance",
	mixins: [Database({ schema: "compliance", migrations }), Outbox({ schema: "compliance" })],

	actions: {
		// ── Consent (R22) and Global Privacy Control (R24) ─────────────────────────────────────────
		listConsents: {
			access: "signedIn",
			async handler(ctx: Ctx) {
				const accountId = await this.signedIn(ctx);
				return (await consentsOf(this.db, accountId)).map(toConsent);
			},
		},

		giveConsent: {
			access: "signedIn",
			params: { purpose: { type: "enum", values: [...CONSENT_PURPOSES] }, recipient, scope: sections },
			async handler(ctx: Ctx<{ purpose: string; recipient: string; scope: string[] }>) {
				const accountId = await this.signedIn(ctx);
				const now = this.now();
				const policy = await policyInForce(this.db, now);
				const request = ctx.meta.request;
				const consent = await this.db.transaction(async (trx) => {
					const row = await insertConsent(trx, {
						account_id: accountId,
						purpose: ctx.params.purpose,
						recipient: ctx.params.recipient,
						scope: [...ctx.params.scope].sort(),
						policy_version: policy?.version ?? "none",
						source: "user",
						given_at: now,
						ip: request?.ip ?? "",
						user_agent: request?.userAgent ?? "",
						gpc_at_grant: request?.gpc === true,
					});
					await this.audit(
						trx,
						accountId,
						"compliance.consent.given",
						{ kind: "account", id: accountId },
						{ consentId: row.id, purpose: row.purpose, recipient: row.recipient, scope: row.scope },
					);
					return row;
				});
				this.relaySoon();
				ctx.meta.$statusCode = 201;
				return toConsent(consent);
			},
		},

		withdrawConsent: {
			access: "signedIn",
			params: { id: "uuid" },
			async handler(ctx: Ctx<{ id: string }>) {
				const accountId = await this.signedIn(ctx);
				const now = this.now();
				const request = ctx.meta.request;
				const consent = await this.db.transaction(async (trx) => {
					const [row] = await withdrawConsent(
						trx,
						{ id: ctx.params.id, accountId },
						{ at: now, source: "user", ip: request?.ip ?? "", userAgent: request?.userAgent ?? "" },
					);
					if (!row) {
						const existing = (await consentsOf(trx, accountId)).find((c) => c.id === ctx.params.id);
						if (!existing) throw new NotFound("There is no such consent.");
						return existing;
					}
					await this.audit(
						trx,
						accountId,
						"compliance.consent.withdrawn",
						{ kind: "account", id: accountId },
						{ consentId: row.id, source: "user" },
					);
					return row;
				});
				this.relaySoon();
				return toConsent(consent);
			},
		},

		/** The gateway's call for every signed-in request carrying `Sec-GPC: 1`. Idempotent. */
		honourGpc: {
			params: { accountId: "uuid" },
			async handler(ctx: Ctx<{ accountId: string }>): Promise<{ withdrawn: string[] }> {
				const request = ctx.meta.request;
				const withdrawn = await this.db.transaction(async (trx) => {
					const rows = await honourGpc(trx, ctx.params.accountId, {
						at: this.now(),
						ip: request?.ip ?? "",
						userAgent: request?.userAgent ?? "",
					});
					for (const row of rows) {
						await this.audit(
							trx,
							row.account_id,
							"compliance.consent.withdrawn",
							{ kind: "account", id: row.account_id },
							{ consentId: row.id, source: "gpc" },
						);
					}
					return rows;
				});
				if (withdrawn.length > 0) this.relaySoon();
				return { withdrawn: withdrawn.map((r) => r.id) };
			},
		},

		// ── Disclosures (R22, R23) ─────────────────────────────────────────────────────────────────
		/**
		 * The one way anything about an account leaves OMTI for a third party. `consent` needs an active
		 * consent covering recipient, purpose and every section; a legal basis needs a reference and a
		 * compliance officer (the caller's actor), and may hold back the owner's notice until a date.
		 */
		disclose: {
			params: {
				accountId: "uuid",
				recipient,
				purpose: text(100),
				sections,
				basis: { type: "enum", values: ["consent", ...LEGAL_BASES] },
				reference: text(500, true),
				notifyAfter: { type: "date", convert: true, optional: true },
			},
			async handler(ctx: Ctx<DiscloseParams>) {
				const { accountId, basis, reference } = ctx.params;
				const actor = actorOf(ctx);
				const legal = basis !== "consent";
				if (legal) {
					if (!(actor?.kind === "staff" && actor.roles.includes("compliance")))
						throw new Forbidden("A disclosure on a legal basis needs a compliance officer.", "COMPLIANCE_OFFICER_REQUIRED");
					if (!reference)
						throw new ValidationError("A legal basis needs its reference.", [
							{ field: "reference", message: "is required for a legal basis" },
						]);
				} else if (ctx.params.notifyAfter) {
					throw new ValidationError("Only a legal basis may delay the notice.", [
						{ field: "notifyAfter", message: "is only allowed with a legal basis" },
					]);
				}
				const now = this.now();
				const disclosure = await this.db.transaction(async (trx) => {
					const consent = legal
						? undefined
						: await coveringConsent(trx, accountId, ctx.params.recipient, ctx.params.purpose, ctx.params.sections);
					if (!legal && !consent) throw new Forbidden("No active consent covers this disclosure.", "NO_CONSENT");
					const row = await insertDisclosure(trx, {
						account_id: accountId,
						recipient: ctx.params.recipient,
						purpose: ctx.params.purpose,
						sections: [...ctx.params.sections].sort(),
						basis,
						reference: reference ?? null,
						consent_id: consent?.id ?? null,
						approved_by: legal ? (actor?.id ?? null) : null,
						requested_by: actor ? `${actor.kind}:${actor.id}` : `service:${ctx.caller ?? "unknown"}`,
						notify_after: ctx.params.notifyAfter ? new Date(ctx.params.notifyAfter) : null,
						disclosed_at: now,
					});
					await this.audit(
						trx,
						accountId,
						"compliance.disclosure.recorded",
						{ kind: actor?.kind ?? "service", id: actor?.id ?? ctx.caller ?? "unknown" },
						{
							disclosureId: row.id,
							recipient: row.recipient,
							purpose: row.purpose,
							sections: row.sections,
							basis,
							reference: row.reference,
							notifyAfter: row.notify_after?.toISOString() ?? null,
						},
					);
					return row;
				});
				this.relaySoon();
				ctx.meta.$statusCode = 201;
				return { ...toDisclosure(disclosure), notifyAfter: disclosure.notify_after?.toISOString() ?? null };
			},
		},

		/** Staff route to `disclose` (a legal-basis disclosure approved by the calling officer). */
		recordDisclosure: {
			access: { roles: ["compliance"] },
			params: {
				accountId: "uuid",
				recipient,
				purpose: text(100),
				sections,
				basis: { type: "enum", values: [...LEGAL_BASES] },
				reference: text(500),
				notifyAfter: { type: "date", convert: true, optional: true },
			},
			async handler(ctx: Ctx<DiscloseParams>) {
				const result = await ctx.call("compliance.disclose", ctx.params);
				ctx.meta.$statusCode = 201;
				return result;
			},
		},

		listDisclosures: {
			access: "signedIn",
			async handler(ctx: Ctx) {
				const accountId = await this.signedIn(ctx);
				return (await visibleDisclosures(this.db, accountId, this.now())).map(toDisclosure);
			},
		},

		// ── Policy versions and notices (R27) ──────────────────────────────────────────────────────
		currentPolicy: {
			access: "signedIn",
			async handler(ctx: Ctx) {
				await this.signedIn(ctx);
				const policy = await policyInForce(this.db, this.now());
				if (!policy) throw new NotFound("No policy is in force.");
				return toPolicy(policy);
			},
		},

		listNotices: {
			access: "signedIn",
			async handler(ctx: Ctx) {
				const accountId = await this.signedIn(ctx);
				const preferencesUrl = `${portalConfig(this.broker).publicUrl}/preferences`;
				return (await noticesOf(this.db, accountId)).map((n) => ({
					version: n.version,
					summary: n.summary,
					effectiveAt: new Date(n.effective_at).toISOString(),
					deliveredAt: new Date(n.delivered_at).toISOString(),
					mailedAt: new Date(n.mailed_at).toISOString(),
					acknowledgedAt: n.acknowledged_at ? new Date(n.acknowledged_at).toISOString() : null,
					policyUrl: `/api/v1/policy/current`,
					preferencesUrl,
				}));
			},
		},

		acknowledgeNotice: {
			access: "signedIn",
			params: { version: { type: "string", min: 1, max: 40, pattern: /^[A-Za-z0-9._-]+$/ } },
			async handler(ctx: Ctx<{ version: string }>) {
				const accountId = await this.signedIn(ctx);
				if (!(await acknowledge(this.db, accountId, ctx.params.version, this.now()))) throw new NotFound("There is no such notice.");
				ctx.meta.$statusCode = 204;
			},
		},

		publishPolicy: {
			access: { roles: ["compliance"] },
			params: {
				version: { type: "string", min: 1, max: 40, pattern: /^[A-Za-z0-9._-]+$/ },
				body: text(200_000),
				summary: text(5_000),
				effectiveAt: { type: "date", convert: true },
			},
			async handler(ctx: Ctx<{ version: string; body: string; summary: string; effectiveAt: Date }>) {
				const now = this.now();
				const actor = actorOf(ctx);
				const inserted = await this.db("compliance.policy_versions")
					.insert({
						version: ctx.params.version,
						body: ctx.params.body,
						summary: ctx.params.summary,
						effective_at: new Date(ctx.params.effectiveAt),
						published_at: now,
						published_by: actor?.id ?? null,
						notice_status: "publishing",
					})
					.onConflict("version")
					.ignore()
					.returning("version");
				if (inserted.length === 0) throw new Conflict("This version was already published.", "POLICY_VERSION_EXISTS");
				void this.runNoticeJobs().catch((err) => this.logger.warn({ err: String(err) }, "policy notices paused; will resume"));
				ctx.meta.$statusCode = 202;
				return { version: ctx.params.version, noticeStatus: "publishing" };
			},
		},

		policyPublication: {
			access: { roles: ["compliance"] },
			params: { version: { type: "string", min: 1, max: 40 } },
			async handler(ctx: Ctx<{ version: string }>) {
				const row = await this.db("compliance.policy_versions").where({ version: ctx.params.version }).first();
				if (!row) throw new NotFound("There is no such version.");
				const counted = await this.db("compliance.policy_notices")
					.where({ version: row.version })
					.whereNotNull("acknowledged_at")
					.count({ acknowledged: "*" });
				return {
					...toPolicy(row),
					noticeStatus: row.notice_status,
					noticesSent: row.notices_sent,
					acknowledged: Number(counted[0]?.acknowledged ?? 0),
				};
			},
		},

		// ── Product agreements (R28) ───────────────────────────────────────────────────────────────
		publishAgreement: {
			access: { roles: ["compliance"] },
			params: {
				productCode: { type: "string", pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/ },
				version: { type: "string", min: 1, max: 40, pattern: /^[A-Za-z0-9._-]+$/ },
				title: text(200),
				effectiveAt: { type: "date", convert: true },
				clauses: {
					type: "array",
					max: 200,
					items: { type: "object", strict: true, props: { topic: { type: "string", pattern: /^[a-z0-9-]{1,60}$/ }, text: text(20_000) } },
				},
			},
			async handler(ctx: Ctx<{ productCode: string; version: string; title: string; effectiveAt: Date; clauses: AgreementClause[] }>) {
				const inserted = await this.db("compliance.agreements")
					.insert({
						product_code: ctx.params.productCode,
						version: ctx.params.version,
						title: ctx.params.title,
						clauses: JSON.stringify(ctx.params.clauses),
						effective_at: new Date(ctx.params.effectiveAt),
						published_at: this.now(),
						published_by: actorOf(ctx)?.id ?? null,
					})
					.onConflict(["product_code", "version"])
					.ignore()
					.returning("*");
				if (inserted.length === 0) throw new Conflict("This agreement version exists.", "AGREEMENT_VERSION_EXISTS");
				ctx.meta.$statusCode = 201;
				return toAgreement(inserted[0] as AgreementRow);
			},
		},

		listAgreements: {
			access: "signedIn",
			async handler(ctx: Ctx) {
				return agreementsOf(this.db, await this.signedIn(ctx), this.now());
			},
		},

		acceptAgreement: {
			access: "signedIn",
			params: { productCode: { type: "string", max: 32 }, version: { type: "string", min: 1, max: 40 } },
			async handler(ctx: Ctx<{ productCode: string; version: string }>) {
				const accountId = await this.signedIn(ctx);
				const owns = await this.db("compliance.account_products")
					.where({ account_id: accountId, product_code: ctx.params.productCode })
					.first();
				const agreement: AgreementRow | undefined = await this.db("compliance.agreements")
					.where({ product_code: ctx.params.productCode, version: ctx.params.version })
					.first();
				if (!owns || !agreement) throw new NotFound("There is no such agreement for your products.");
				await this.db.transaction(async (trx) => {
					await accept(trx, accountId, agreement, this.now(), "acceptance");
					await this.audit(
						trx,
						accountId,
						"compliance.agreement.accepted",
						{ kind: "account", id: accountId },
						{ productCode: agreement.product_code, version: agreement.version },
					);
				});
				this.relaySoon();
				ctx.meta.$statusCode = 204;
			},
		},

		/**
		 * "Which terms govern this account for this topic" (R28): a clause of an agreement the account
		 * accepted overrides the policy on its topic; otherwise the policy in force governs.
		 */
		governingTerms: {
			params: { accountId: "uuid", topic: { type: "string", pattern: /^[a-z0-9-]{1,60}$/ } },
			async handler(ctx: Ctx<{ accountId: string; topic: string }>) {
				const now = this.now();
				for (const product of await agreementsOf(this.db, ctx.params.accountId, now)) {
					const clause = product.accepted?.clauses.find((c) => c.topic === ctx.params.topic);
					if (product.accepted && clause) {
						return {
							governs: "agreement",
							productCode: product.productCode,
							version: product.accepted.version,
							title: product.accepted.title,
							clause,
						};
					}
				}
				const policy = await policyInForce(this.db, now);
				return { governs: "policy", version: policy?.version ?? null, topic: ctx.params.topic };
			},
		},

		myGoverningTerms: {
			access: "signedIn",
			params: { topic: { type: "string", pattern: /^[a-z0-9-]{1,60}$/ } },
			async handler(ctx: Ctx<{ topic: string }>) {
				return ctx.call("compliance.governingTerms", { accountId: await this.signedIn(ctx), topic: ctx.params.topic });
			},
		},

		staffGoverningTerms: {
			access: { roles: ["compliance", "support"] },
			params: { accountId: "uuid", topic: { type: "string", pattern: /^[a-z0-9-]{1,60}$/ } },
			async handler(ctx: Ctx<{ accountId: string; topic: string }>) {
				return ctx.call("compliance.governingTerms", ctx.params);
			},
		},

		// ── CCPA right to know (R25, R26) ──────────────────────────────────────────────────────────
		createRequest: {
			access: "signedIn",
			params: { type: { type: "enum", values: ["access"] }, californiaResident: { type: "boolean", optional: true } },
			async handler(ctx: Ctx<{ type: "access"; californiaResident?: boolean }>) {
				const accountId = await this.signedIn(ctx);
				const now = this.now();
				const account = await this.db("compliance.accounts").where({ account_id: accountId }).first();
				// The policy grants the inventory to California residents; everyone gets it, with the basis recorded.
				const residencyBasis =
					account?.region?.toUpperCase() === "CA" && (account.country ?? "US").toUpperCase() === "US"
						? "profile-region-ca"
						: ctx.params.californiaResident
							? "self-declared"
							: "not-california-offered-to-all";
				const created = await this.db.transaction(async (trx) => {
					await lockAccount(trx, accountId);
					const recent = await requestsWithin(trx, accountId, addMonths(now, -12), now);
					if (recent.length >= REQUESTS_PER_YEAR) {
						const oldest = recent[recent.length - REQUESTS_PER_YEAR] as PrivacyRequestRow;
						const nextAvailableAt = addMonths(oldest.received_at, 12);
						throw new RateLimited(
							"You can ask for your inventory twice in 12 months.",
							(nextAvailableAt.getTime() - now.getTime()) / 1000,
							{
								nextAvailableAt: nextAvailableAt.toISOString(),
							},
						);
					}
					const [row] = await trx<PrivacyRequestRow>("compliance.privacy_requests")
						.insert({
							id: randomUUID(),
							account_id: accountId,
							type: ctx.params.type,
							status: "received",
							residency_basis: residencyBasis,
							received_at: now,
							due_at: addDays(now, DUE_DAYS),
						})
						.returning("*");
					const request = row as PrivacyRequestRow;
					await recordStatus(trx, request, "received", now, `account:${accountId}`);
					await this.mail(trx, accountId, "privacy-request-received", `privacy-request-received:${request.id}`, {
						requestId: request.id,
						receivedAt: now.toUTCString(),
						dueAt: request.due_at.toUTCString(),
						statusUrl: `${portalConfig(this.broker).publicUrl}/privacy/requests/${request.id}`,
					});
					await this.audit(
						trx,
						accountId,
						"compliance.privacy-request.received",
						{ kind: "account", id: accountId },
						{ requestId: request.id, type: request.type },
					);
					return request;
				});
				this.relaySoon();
				void this.updateRequestGauges().catch(() => undefined);
				ctx.meta.$statusCode = 202;
				return toRequest(created);
			},
		},

		listRequests: {
			access: "signedIn",
			async handler(ctx: Ctx) {
				return (await requestsOf(this.db, await this.signedIn(ctx))).map(toRequest);
			},
		},

		getRequest: {
			access: "signedIn",
			params: { id: "uuid" },
			async handler(ctx: Ctx<{ id: string }>) {
				const request = await this.ownRequest(ctx, ctx.params.id);
				return {
					...toRequest(request),
					history: (await historyOf(this.db, request.id)).map((h) => ({ ...h, at: new Date(h.at).toISOString() })),
				};
			},
		},

		/**
		 * The inventory itself (R26): owner only, after re-entering the password within 10 minutes, while
		 * the download window is open. Streamed; never secrets.
		 */
		downloadRequest: {
			access: "signedIn",
			params: { id: "uuid", format: { type: "enum", values: ["json", "html"], optional: true } },
			async handler(ctx: Ctx<{ id: string; format?: "json" | "html" }>): Promise<Readable> {
				const request = await this.ownRequest(ctx, ctx.params.id);
				const now = this.now();
				if (request.status !== "completed" || !request.download_expires_at)
					throw new Conflict("The inventory is not ready yet.", "INVENTORY_NOT_READY");
				if (request.download_expires_at <= now)
					throw new Gone("The download link has expired. Please make a new request.", "DOWNLOAD_EXPIRED");
				const { ok } = await ctx.call<{ ok: boolean }, { sessionId: string; withinSeconds: number }>("identity.recentlyReauthenticated", {
					sessionId: ctx.meta.actor?.sessionId ?? "",
					withinSeconds: REAUTH_SECONDS,
				});
				if (!ok) throw new Forbidden("Please enter your password again to download your inventory.", "REAUTHENTICATION_REQUIRED");
				let descriptions: DescribedService[];
				try {
					descriptions = await describeAll(this.broker);
				} catch {
					throw new Unavailable("Part of the portal is not answering; please try again in a moment.", "INVENTORY_UNAVAILABLE");
				}
				const format = ctx.params.format ?? "json";
				await this.db.transaction(async (trx) => {
					await recordStatus(trx, request, "downloaded", now, `account:${request.account_id}`, format);
					await this.audit(
						trx,
						request.account_id,
						"compliance.inventory.downloaded",
						{ kind: "account", id: request.account_id },
						{ requestId: request.id, format },
					);
				});
				this.relaySoon();
				ctx.meta.$responseType = format === "json" ? "application/json; charset=utf-8" : "text/html; charset=utf-8";
				ctx.meta.$responseHeaders = { "Content-Disposition": `attachment; filename="omti-inventory-${request.id}.${format}"` };
				return inventoryStream(
					this.broker,
					format,
					{
						requestId: request.id,
						accountId: request.account_id,
						receivedAt: request.received_at.toISOString(),
						residencyBasis: request.residency_basis,
						generatedAt: now.toISOString(),
					},
					descriptions,
				);
			},
		},

		requestQueue: {
			access: { roles: ["compliance"] },
			params: { status: { type: "enum", values: ["received", "extended", "completed"], optional: true } },
			async handler(ctx: Ctx<{ status?: string }>) {
				const rows: (PrivacyRequestRow & { email: string | null })[] = await this.db("compliance.privacy_requests as r")
					.leftJoin("compliance.accounts as a", "a.account_id", "r.account_id")
					.modify((q) => (ctx.params.status ? q.where("r.status", ctx.params.status) : q.whereIn("r.status", ["received", "extended"])))
					.orderBy("r.due_at")
					.limit(500)
					.select("r.*", "a.email");
				return rows.map((r) => ({ ...toRequest(r), accountId: r.account_id, email: r.email }));
			},
		},

		extendRequest: {
			access: { roles: ["compliance"] },
			params: { id: "uuid", reason: text(2_000) },
			async handler(ctx: Ctx<{ id: string; reason: string }>) {
				const now = this.now();
				const updated = await this.db.transaction(async (trx) => {
					const request = await trx<PrivacyRequestRow>("compliance.privacy_requests").where({ id: ctx.params.id }).forUpdate().first();
					if (!request) throw new NotFound("There is no such request.");
					if (request.status !== "received")
						throw new Conflict("A request can be extended once, before it is completed.", "EXTENSION_NOT_ALLOWED");
					const [row] = await trx<PrivacyRequestRow>("compliance.privacy_requests")
						.where({ id: request.id })
						.update({
							status: "extended",
							due_at: addDays(request.due_at, EXTENSION_DAYS),
							extended_at: now,
							extension_reason: ctx.params.reason,
						})
						.returning("*");
					const extended = row as PrivacyRequestRow;
					await recordStatus(trx, extended, "extended", now, `staff:${actorOf(ctx)?.id}`, ctx.params.reason);
					await this.mail(trx, extended.account_id, "privacy-request-extended", `privacy-request-extended:${extended.id}`, {
						requestId: extended.id,
						dueAt: extended.due_at.toUTCString(),
						reason: ctx.params.reason,
						statusUrl: `${portalConfig(this.broker).publicUrl}/privacy/requests/${extended.id}`,
					});
					await this.audit(
						trx,
						extended.account_id,
						"compliance.privacy-request.extended",
						{ kind: "staff", id: actorOf(ctx)?.id ?? "" },
						{ requestId: extended.id, dueAt: extended.due_at.toISOString() },
					);
					return extended;
				});
				this.relaySoon();
				return toRequest(updated);
			},
		},

		/** A compliance officer releases the inventory once the request is verified (R25). */
		completeRequest: {
			access: { roles: ["compliance"] },
			params: { id: "uuid" },
			async handler(ctx: Ctx<{ id: string }>) {
				const now = this.now();
				const updated = await this.db.transaction(async (trx) => {
					const request = await trx<PrivacyRequestRow>("compliance.privacy_requests").where({ id: ctx.params.id }).forUpdate().first();
					if (!request) throw new NotFound("There is no such request.");
					if (request.status === "completed") throw new Conflict("The request is already completed.", "ALREADY_COMPLETED");
					const [row] = await trx<PrivacyRequestRow>("compliance.privacy_requests")
						.where({ id: request.id })
						.update({ status: "completed", completed_at: now, download_expires_at: addDays(now, DOWNLOAD_DAYS) })
						.returning("*");
					const completed = row as PrivacyRequestRow;
					await recordStatus(trx, completed, "completed", now, `staff:${actorOf(ctx)?.id}`);
					await this.mail(trx, completed.account_id, "privacy-request-completed", `privacy-request-completed:${completed.id}`, {
						requestId: completed.id,
						expiresAt: (completed.download_expires_at as Date).toUTCString(),
						statusUrl: `${portalConfig(this.broker).publicUrl}/privacy/requests/${completed.id}`,
					});
					await this.audit(
						trx,
						completed.account_id,
						"compliance.privacy-request.completed",
						{ kind: "staff", id: actorOf(ctx)?.id ?? "" },
						{ requestId: completed.id },
					);
					return completed;
				});
				this.relaySoon();
				void this.updateRequestGauges().catch(() => undefined);
				return toRequest(updated);
			},
		},

		// ── Privacy questions (R32) ────────────────────────────────────────────────────────────────
		createInquiry: {
			access: "signedIn",
			params: { subject: text(200), message: text(10_000) },
			async handler(ctx: Ctx<{ subject: string; message: string }>) {
				const accountId = await this.signedIn(ctx);
				const now = this.now();
				const inquiry = await this.db.transaction(async (trx) => {
					const [row] = await trx<InquiryRow>("compliance.inquiries")
						.insert({
							id: randomUUID(),
							account_id: accountId,
							subject: ctx.params.subject,
							message: ctx.params.message,
							status: "open",
							created_at: now,
						})
						.returning("*");
					const created = row as InquiryRow;
					await this.mail(trx, accountId, "privacy-inquiry-received", `privacy-inquiry-received:${created.id}`, {
						subject: created.subject,
						inquiryUrl: `${portalConfig(this.broker).publicUrl}/privacy/inquiries/${created.id}`,
					});
					return created;
				});
				this.relaySoon();
				ctx.meta.$statusCode = 201;
				return toInquiry(inquiry);
			},
		},

		listInquiries: {
			access: "signedIn",
			async handler(ctx: Ctx) {
				const rows: InquiryRow[] = await this.db("compliance.inquiries")
					.where({ account_id: await this.signedIn(ctx) })
					.orderBy("created_at", "desc");
				return rows.map(toInquiry);
			},
		},

		inquiryQueue: {
			access: { roles: ["compliance"] },
			params: { status: { type: "enum", values: ["open", "answered"], optional: true } },
			async handler(ctx: Ctx<{ status?: "open" | "answered" }>) {
				const rows: (InquiryRow & { email: string | null })[] = await this.db("compliance.inquiries as i")
					.leftJoin("compliance.accounts as a", "a.account_id", "i.account_id")
					.where("i.status", ctx.params.status ?? "open")
					.orderBy("i.created_at")
					.limit(500)
					.select("i.*", "a.email");
				return rows.map((r) => ({ ...toInquiry(r), accountId: r.account_id, email: r.email }));
			},
		},

		answerInquiry: {
			access: { roles: ["compliance"] },
			params: { id: "uuid", answer: text(20_000) },
			async handler(ctx: Ctx<{ id: string; answer: string }>) {
				const now = this.now();
				const staffId = actorOf(ctx)?.id ?? null;
				const answered = await this.db.transaction(async (trx) => {
					const [row] = await trx<InquiryRow>("compliance.inquiries")
						.where({ id: ctx.params.id, status: "open" })
						.update({ status: "answered", answer: ctx.params.answer, answered_by: staffId, answered_at: now })
						.returning("*");
					if (!row) {
						const exists = await trx("compliance.inquiries").where({ id: ctx.params.id }).first();
						throw exists
							? new Conflict("This question was already answered.", "ALREADY_ANSWERED")
							: new NotFound("There is no such question.");
					}
					await this.mail(trx, row.account_id, "privacy-inquiry-answered", `privacy-inquiry-answered:${row.id}`, {
						subject: row.subject,
						inquiryUrl: `${portalConfig(this.broker).publicUrl}/privacy/inquiries/${row.id}`,
					});
					await this.audit(trx, row.account_id, "compliance.inquiry.answered", { kind: "staff", id: staffId ?? "" }, { inquiryId: row.id });
					return row as InquiryRow;
				});
				this.relaySoon();
				return toInquiry(answered);
			},
		},

		// ── Privacy centre (R29) ───────────────────────────────────────────────────────────────────
		/** Everything the privacy page shows, in one call, with where each preference is changed. */
		privacyCentre: {
			access: "signedIn",
			async handler(ctx: Ctx) {
				const accountId = await this.signedIn(ctx);
				const now = this.now();
				const [consents, disclosures, gpc, requests, inquiries, notices, policy, agreements] = await Promise.all([
					consentsOf(this.db, accountId),
					visibleDisclosures(this.db, accountId, now),
					gpcSignalOf(this.db, accountId),
					requestsOf(this.db, accountId),
					this.db<InquiryRow>("compliance.inquiries").where({ account_id: accountId }).orderBy("created_at", "desc"),
					noticesOf(this.db, accountId),
					policyInForce(this.db, now),
					agreementsOf(this.db, accountId, now),
				]);
				const recent = requests
					.filter((r) => r.received_at > addMonths(now, -12))
					.sort((a, b) => a.received_at.getTime() - b.received_at.getTime());
				const oldest = recent.length >= REQUESTS_PER_YEAR ? recent[recent.length - REQUESTS_PER_YEAR] : undefined;
				// Communication preferences belong to communications; the centre shows them (null while it is away).
				const communications = await ctx.call("communications.getPreferences", {}).catch(() => null);
				return {
					policy: policy ? { version: policy.version, effectiveAt: policy.effective_at.toISOString(), summary: policy.summary } : null,
					notices: notices.map((n) => ({
						version: n.version,
						summary: n.summary,
						acknowledgedAt: n.acknowledged_at ? new Date(n.acknowledged_at).toISOString() : null,
					})),
					consents: consents.map(toConsent),
					globalPrivacyControl: {
						honoured: gpc !== undefined,
						firstSeenAt: gpc?.first_seen_at.toISOString() ?? null,
						lastSeenAt: gpc?.last_seen_at.toISOString() ?? null,
						withdraws: ["sale", "rent", "share", "de-identified-share"],
					},
					disclosures: disclosures.map(toDisclosure),
					requests: {
						items: requests.map(toRequest),
						remainingThisYear: Math.max(0, REQUESTS_PER_YEAR - recent.length),
						nextAvailableAt: oldest ? addMonths(oldest.received_at, 12).toISOString() : null,
					},
					inquiries: inquiries.map(toInquiry),
					agreements,
					communications,
					serviceMessages: "Service messages (account, security, policy notices, request status) are always sent.",
					links: {
						consents: "/api/v1/privacy/consents",
						disclosures: "/api/v1/privacy/disclosures",
						requests: "/api/v1/privacy/requests",
						inquiries: "/api/v1/privacy/inquiries",
						notices: "/api/v1/policy/notices",
						communications: "/api/v1/preferences/communications",
						sharing: "/api/v1/shares",
					},
				};
			},
		},

		// ── Personal-data contract (ARCHITECTURE rule 7) ───────────────────────────────────────────
		personalData: {
			params: {
				op: { type: "enum", values: ["describe", "export"] },
				accountId: { type: "uuid", optional: true },
				cursor: { type: "string", optional: true, max: 100 },
			},
			async handler(
				ctx: Ctx<{ op: "describe" | "export"; accountId?: string }>,
			): Promise<PersonalDataDescription | PersonalDataExportPage> {
				if (ctx.params.op === "describe") return COMPLIANCE_DATA;
				const accountId = ctx.params.accountId;
				if (!accountId) throw new ValidationError("An export needs the account.", [{ field: "accountId", message: "is required" }]);
				const by = (table: string) => this.db(`compliance.${table}`).where({ account_id: accountId });
				const [account, consents, gpc, disclosures, notices, products, acceptances, requests, events, inquiries] = await Promise.all([
					by("accounts"),
					by("consents"),
					by("gpc_signals"),
					visibleDisclosures(this.db, accountId, this.now()),
					by("policy_notices"),
					by("account_products"),
					by("agreement_acceptances"),
					by("privacy_requests"),
					by("privacy_request_events"),
					by("inquiries"),
				]);
				return {
					service: "compliance",
					records: {
						account,
						consents,
						globalPrivacyControl: gpc,
						disclosures,
						policyNotices: notices,
						products,
						agreementAcceptances: acceptances,
						privacyRequests: requests,
						privacyRequestHistory: events,
						inquiries,
					},
				};
			},
		},
	},

	channels: {
		/** The account registry: who gets policy notices, and where they live (CCPA basis). */
		[Channels.accountCreated]: {
			group: "compliance",
			context: true,
			async handler(ctx: Context<AccountCreatedMessage>) {
				const m = ctx.params;
				await this.db.transaction(async (trx: Knex.Transaction) => {
					if (!(await firstDelivery(trx, "compliance", m.messageId))) return;
					const at = new Date(m.occurredAt);
					await trx("compliance.accounts")
						.insert({ account_id: m.accountId, email: m.email, country: m.country ?? null, region: m.region ?? null, registered_at: at })
						.onConflict("account_id")
						.ignore();
					await recordPurchase(trx, m.accountId, m.product.code, at);
				});
			},
		},
		/** R10: policy notices and privacy-request mail follow the address the owner confirmed in profile. */
		[ProfileChannels.emailConfirmed]: {
			group: "compliance",
			context: true,
			async handler(ctx: Context<ProfileEmailConfirmedMessage>) {
				const m = ctx.params;
				await this.db.transaction(async (trx: Knex.Transaction) => {
					if (!(await firstDelivery(trx, "compliance", m.messageId))) return;
					await trx("compliance.accounts").where({ account_id: m.accountId }).update({ email: m.email });
				});
			},
		},
		[Channels.productAdded]: {
			group: "compliance",
			context: true,
			async handler(ctx: Context<ProductAddedMessage>) {
				const m = ctx.params;
				await this.db.transaction(async (trx: Knex.Transaction) => {
					if (!(await firstDelivery(trx, "compliance", m.messageId))) return;
					await recordPurchase(trx, m.accountId, m.product.code, new Date(m.occurredAt));
				});
			},
		},
	},

	methods: {
		now() {
			return this.clock.now();
		},

		/** The signed-in account; a request carrying Global Privacy Control is honoured first (R24). */
		async signedIn(ctx: Ctx): Promise<string> {
			const actor = ctx.meta.actor;
			if (!actor || actor.kind === "system") throw new Unauthorized();
			if (ctx.meta.request?.gpc === true) await ctx.call("compliance.honourGpc", { accountId: actor.id });
			return actor.id;
		},

		async audit(
			trx: Knex.Transaction,
			accountId: string,
			action: string,
			actor: { kind: string; id: string },
			detail: Record<string, unknown>,
		) {
			await this.enqueue(trx, Channels.auditRecorded, { accountId, action, actor, at: this.now().toISOString(), detail });
		},

		/** A service mail (R19) through the outbox; false when the account's address is not known here. */
		async mail(trx: Knex.Transaction, accountId: string, template: string, key: string, data: Record<string, string>) {
			const account = await trx("compliance.accounts").where({ account_id: accountId }).first();
			if (!account) {
				this.logger.warn({ accountId, template }, "no address for this account yet; mail not sent");
				return false;
			}
			await this.enqueue(trx, Channels.mailRequested, { idempotencyKey: key, accountId, to: account.email, template, data });
			return true;
		},

		relaySoon() {
			void this.relayOutbox().catch(() => undefined);
		},

		/** Drives every unfinished publication to its end, batch by batch; safe to call concurrently. */
		runNoticeJobs(): Promise<void> {
			if (!this.noticeRun) {
				this.noticeRun = (async () => {
					const config = portalConfig(this.broker);
					for (const { version } of await publishingVersions(this.db)) {
						for (;;) {
							const outcome = await noticeBatch(this.db, this.enqueue.bind(this), {
								version,
								batchSize: this.noticeBatchSize,
								now: this.now(),
								preferencesUrl: `${config.publicUrl}/preferences`,
								noticesUrl: `${config.publicUrl}/policy/notices`,
							});
							this.relaySoon();
							if (outcome !== "more") break;
						}
					}
				})().finally(() => {
					this.noticeRun = undefined;
				});
			}
			return this.noticeRun;
		},

		/** Request records are kept 24 months (R25), then deleted with their history. */
		async purgeExpiredRequests(): Promise<number> {
			const deleted = await this.db("compliance.privacy_requests")
				.where("received_at", "<", addMonths(this.now(), -RECORD_MONTHS))
				.delete()
				.returning("id");
			return deleted.length;
		},

		/** The caller's own request; someone else's is "not found" (its existence is private). */
		/**
		 * The privacy-request gauges (/metrics): set from the table, so every replica reports the
		 * same numbers and a restart loses nothing. Refreshed on each background pass and change.
		 */
		async updateRequestGauges(): Promise<void> {
			if (!this.broker.isMetricsEnabled()) return;
			const { open, overdue } = await openRequestCounts(this.db, this.now());
			this.broker.metrics.set(DomainMetric.privacyRequestsOpen, open);
			this.broker.metrics.set(DomainMetric.privacyRequestsOverdue, overdue);
		},

		async ownRequest(ctx: Ctx, id: string): Promise<PrivacyRequestRow> {
			const accountId = await this.signedIn(ctx);
			const request = await requestById(this.db, id);
			if (!request || request.account_id !== accountId) throw new NotFound("There is no such request.");
			return request;
		},
	},

	created() {
		this.clock = systemClock;
		this.noticeBatchSize = NOTICE_BATCH;
	},

	started() {
		// Unfinished publications (a crash, a restart) resume here; retention runs on the same beat.
		const tick = () => {
			this.dbReady
				.then(() => Promise.all([this.runNoticeJobs(), this.purgeExpiredRequests(), this.updateRequestGauges()]))
				.catch((err) => this.logger.warn({ err: String(err) }, "compliance background pass failed; will retry"))
				.finally(() => {
					if (this.noticeTimer) this.noticeTimer = setTimeout(tick, JOB_INTERVAL_MS);
				});
		};
		this.noticeTimer = setTimeout(tick, 0);
	},

	async stopped() {
		clearTimeout(this.noticeTimer);
		this.noticeTimer = undefined;
		await this.noticeRun?.catch(() => undefined);
	},
});

const toInquiry = (row: InquiryRow) => ({
	id: row.id,
	subject: row.subject,
	message: row.message,
	status: row.status,
	createdAt: row.created_at.toISOString(),
	answer: row.answer,
	answeredAt: row.answered_at?.toISOString() ?? null,
});

const COMPLIANCE_DATA: PersonalDataDescription = {
	service: "compliance",
	categories: [
		{
			category: "Account registry",
			fields: ["email", "country", "region"],
			purpose: "Sending policy notices and request status mail; deciding which privacy law applies",
			source: "Your purchase (through your account)",
			recipients: [],
			retention: "While the account exists",
			tables: ["compliance.accounts"],
		},
		{
			category: "Consents and Global Privacy Control",
			fields: ["purpose", "recipient", "scope", "policy version", "time", "IP address", "user agent", "withdrawal"],
			purpose: "Proving and honouring your choices about sale and sharing",
			source: "You (the privacy centre, your browser's Global Privacy Control signal)",
			recipients: [],
			retention: "While the account exists, withdrawals included",
			tables: ["compliance.consents", "compliance.gpc_signals"],
		},
		{
			category: "Disclosures",
			fields: ["recipient", "purpose", "sections", "basis", "reference", "time"],
			purpose: "Recording what left OMTI, to whom and why",
			source: "OMTI",
			recipients: ["The disclosure's recipient"],
			retention: "While the account exists",
			tables: ["compliance.disclosures"],
		},
		{
			category: "Policy notices and agreements",
			fields: ["policy version", "notice delivered", "acknowledged", "products", "agreement versions accepted"],
			purpose: "Showing you were told of policy changes; knowing which terms govern",
			source: "OMTI, your purchases, your acceptance",
			recipients: [],
			retention: "While the account exists",
			tables: ["compliance.policy_notices", "compliance.account_products", "compliance.agreement_acceptances"],
		},
		{
			category: "Privacy requests and questions",
			fields: ["request type", "status history", "due dates", "questions", "answers"],
			purpose: "Answering your privacy requests and questions",
			source: "You",
			recipients: [],
			retention: "Requests 24 months; questions while the account exists",
			tables: ["compliance.privacy_requests", "compliance.privacy_request_events", "compliance.inquiries"],
		},
	],
};

export default ComplianceService;
