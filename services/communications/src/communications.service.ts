import {
	type AccountCreatedMessage,
	Channels,
	type MailRequestedMessage,
	type PersonalDataDescription,
	type PersonalDataExport,
	type PersonalDataParams,
	type PortalMeta,
	type ProductAddedMessage,
	ProfileChannels,
	type ProfileEmailConfirmedMessage,
} from "@portal/contracts";
import {
	BadRequest,
	Database,
	type DatabaseThis,
	DomainMetric,
	defineService,
	firstDelivery,
	Gone,
	GROUP_COMMIT_IN_FLIGHT,
	GroupCommit,
	isMailCaptured,
	type Knex,
	NotFound,
	type PortalConfig,
	portalConfig,
	Unauthorized,
	ValidationError,
} from "@portal/platform";
import type { Context } from "moleculer";
import { migrations } from "../migrations";
import {
	anyCampaignDue,
	type CampaignReport,
	type CampaignRow,
	campaignHistoryOf,
	claimDueCampaign,
	createCampaign,
	decide,
	findCampaign,
	listCampaigns,
	pendingRecipients,
	reportFor,
	resolveHolders,
	scheduleNext,
} from "./campaigns.repo";
import { marketingBlock, needsOptIn, type SuppressionReason, signUnsubscribeToken, verifyUnsubscribeToken } from "./consent";
import { createSender, type DeliveryOutcome, deliverDue, type MailSender } from "./delivery";
import { capturedFor, enqueueMail, enqueueMails, type NewMail } from "./mails.repo";
import { personalDataDescription } from "./personal-data";
import {
	changeRecipientEmail,
	findPreference,
	findRecipient,
	localesOf,
	marketingFacts,
	type PreferenceRow,
	preferenceHistory,
	productsOf,
	savePreference,
	startingPreferences,
	upsertRecipients,
} from "./preferences.repo";
import { type Template, templates } from "./templates";
import { UNSUBSCRIBE_FIELD } from "./templates/template";
import { confirmPage, donePage } from "./unsubscribe-page";

type QueueRequest = Omit<NewMail, "from" | "rendered" | "headers"> & {
	data: Record<string, string>;
	/** For marketing: the product the offer is about, checked against the per-topic choice. */
	topic?: string;
};
type QueueOutcome = { queued: boolean } | { suppressed: SuppressionReason };
type PurchaseFact = { kind: "account-created"; message: AccountCreatedMessage } | { kind: "product-added"; message: ProductAddedMessage };
type Ctx<P = unknown> = Context<P, PortalMeta>;

interface Vars {
	sender: MailSender;
	deliveryTimer?: NodeJS.Timeout;
	deliveryRun?: Promise<number>;
	campaignTimer?: NodeJS.Timeout;
	campaignRun?: Promise<number>;
	/** Purchase facts arriving together (a burst of purchases) share a transaction and a delivery pass. */
	purchaseFacts: GroupCommit<PurchaseFact, undefined>;
	recordPurchaseFacts(facts: PurchaseFact[]): Promise<undefined[]>;
	queue(mail: QueueRequest, trx?: Knex.Transaction): Promise<QueueOutcome>;
	deliver(): Promise<number>;
	runCampaigns(): Promise<number>;
	campaignBatch(): Promise<boolean>;
	preferencesOf(accountId: string): Promise<PreferencesView>;
	unsubscribeTarget(token: string): Promise<UnsubscribeTarget>;
}
interface UnsubscribeTarget {
	accountId: string;
	issuedAt: Date;
	email: string;
	preference: PreferenceRow | undefined;
}
type CommunicationsThis = DatabaseThis & Vars;

/** API.md: `{ marketing: { email }, topics?, serviceMessages: "always" }`, plus what the page explains. */
interface PreferencesView {
	marketing: { email: boolean };
	topics: Record<string, boolean>;
	products: { code: string; name: string }[];
	serviceMessages: "always";
	serviceMessagesNote: string;
	locale: string | null;
	jurisdiction: { country: string | null; optInRequired: boolean };
	updatedAt: string | null;
	history: { at: string; source: string; marketing: { email: boolean }; topics: Record<string, boolean> }[];
}

interface PreferencesUpdate {
	marketing?: { email: boolean };
	topics?: Record<string, boolean>;
	locale?: string | null;
	serviceMessages?: "always";
}

interface CampaignParams {
	productCode: string;
	subject: string;
	message: string;
	offerUrl?: string;
	ratePerSecond?: number;
}

const DELIVERY_INTERVAL_MS = 500;
/** Campaign throttle (R18): the most a campaign may ask for; CAMPAIGN_RATE_PER_SECOND is the default. */
const CAMPAIGN_MAX_RATE_PER_SECOND = 200;
const CAMPAIGN_INTERVAL_MS = 250;
/** Locales that have translations of the templates; English is the default for everything else. */
const LOCALES = ["en", "de"];
const SERVICE_MESSAGES_NOTE =
	"Messages about your use of the OMTI Customer Portal (account, security, policy notices, request status) are always sent and cannot be turned off.";
const PRODUCT_CODE = { type: "string", pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/ } as const;

/** Pulls the absolute links out of a mail's text, for the mailbox (scripts and tests follow them). */
const linksOf = (text: string | null): string[] => [...(text ?? "").matchAll(/https?:\/\/[^\s<>"]+/g)].map((m) => m[0]);

const evidenceOf = (ctx: Ctx) => ({
	actor: ctx.meta.actor ? { kind: ctx.meta.actor.kind, id: ctx.meta.actor.id } : null,
	ip: ctx.meta.request?.ip ?? null,
	userAgent: ctx.meta.request?.userAgent ?? null,
	requestId: ctx.meta.request?.requestId ?? null,
});

function templateFor(name: string): Template {
	const template = templates.get(name);
	if (!template) throw new Error(`unknown mail template '${name}'`);
	return template;
}

/** A mail rendered in the locale, from the sender its kind goes out under. */
function compose(
	mail: Omit<QueueRequest, "data" | "topic">,
	values: Record<string, string>,
	locale: string | null,
	config: PortalConfig,
	headers: Record<string, string> = {},
): NewMail {
	const rendered = templateFor(mail.template).render(values, locale);
	const from = rendered.kind === "marketing" ? config.mailFrom.marketing : config.mailFrom.service;
	return { ...mail, rendered, from, headers };
}

/** The service mail a purchase fact sends: welcome with the activation link, or the new product. */
function purchaseMail({ kind, message: m }: PurchaseFact, publicUrl: string): QueueRequest {
	if (kind === "product-added") {
		return {
			idempotencyKey: `product-added:${m.messageId}`,
			accountId: m.accountId,
			template: "product-added",
			to: m.email,
			data: { username: m.username, productName: m.product.name, portalUrl: publicUrl },
		};
	}
	return {
		idempotencyKey: `welcome:${m.messageId}`,
		accountId: m.accountId,
		template: "welcome",
		to: m.email,
		data: {
			name: m.givenName ?? m.username,
			username: m.username,
			productName: m.product.name,
			activationUrl: `${publicUrl}/activate?token=${encodeURIComponent(m.activationToken)}`,
			expiresAt: new Date(m.activationExpiresAt).toUTCString(),
		},
	};
}

const campaignView = (c: CampaignRow, report: CampaignReport) => ({
	id: c.id,
	productCode: c.product_code,
	subject: c.subject,
	message: c.message,
	offerUrl: c.offer_url,
	ratePerSecond: c.rate_per_second,
	status: c.status,
	createdBy: c.created_by,
	createdAt: c.created_at,
	resolvedAt: c.resolved_at,
	finishedAt: c.finished_at,
	report,
});

const CommunicationsService = defineService<CommunicationsThis>({
	name: "communications",
	mixins: [Database({ schema: "communications", migrations })],

	actions: {
		/** R18/R19: the account's own communication preferences. */
		getPreferences: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<PreferencesView> {
				return this.preferencesOf(ctx.meta.actor?.id ?? "");
			},
		},

		/** R18: marketing on/off and per product; service messages cannot be turned off (R19). Recorded with time and source. */
		updatePreferences: {
			access: "signedIn",
			params: {
				marketing: { type: "object", optional: true, strict: true, props: { email: "boolean" } },
				topics: { type: "record", optional: true, key: PRODUCT_CODE, value: { type: "boolean" } },
				locale: { type: "enum", values: LOCALES, optional: true, nullable: true },
				serviceMessages: { type: "equal", value: "always", strict: true, optional: true },
			},
			async handler(ctx: Ctx<PreferencesUpdate>): Promise<PreferencesView> {
				const accountId = ctx.meta.actor?.id;
				if (!accountId) throw new Unauthorized();
				const { marketing, topics, locale } = ctx.params;
				const held = new Set((await productsOf(this.db, accountId)).map((p) => p.product_code));
				const unknown = Object.keys(topics ?? {}).filter((code) => !held.has(code));
				if (unknown.length > 0) {
					throw new ValidationError(
						"Topics are the products on your account.",
						unknown.map((code) => ({ field: `topics.${code}`, message: `You do not hold the product '${code}'.` })),
					);
				}
				const current = await this.preferencesOf(accountId);
				const next = {
					marketingEmail: marketing?.email ?? current.marketing.email,
					topics: { ...((await findPreference(this.db, accountId))?.topics ?? {}), ...(topics ?? {}) },
					locale: locale === undefined ? current.locale : locale,
				};
				const changed =
					next.marketingEmail !== current.marketing.email ||
					next.locale !== current.locale ||
					Object.entries(topics ?? {}).some(([code, on]) => current.topics[code] !== on) ||
					current.updatedAt === null;
				if (changed) {
					await this.db.transaction((trx) => savePreference(trx, accountId, { ...next, source: "account", evidence: evidenceOf(ctx) }));
				}
				return this.preferencesOf(accountId);
			},
		},

		/** R20: the page behind the visible link; shows what a click will do (fetching it changes nothing). */
		unsubscribePage: {
			access: "public",
			params: { token: { type: "string", min: 1, max: 200 } },
			async handler(ctx: Ctx<{ token: string }>): Promise<string> {
				const target = await this.unsubscribeTarget(ctx.params.token);
				const done = target.preference?.marketing_email === false && target.preference.source === "unsubscribe-link";
				const action = `/api/v1/unsubscribe?token=${encodeURIComponent(ctx.params.token)}`;
				ctx.meta.$responseType = "text/html; charset=utf-8";
				return confirmPage(target.email, done, action);
			},
		},

		/**
		 * R20: RFC 8058 one-click unsubscribe, without sign-in: the signed token in the query is the
		 * credential. The body (`List-Unsubscribe=One-Click`, form-encoded) is what every one-click
		 * client sends and carries no information, so the action does not depend on it being parsed.
		 */
		unsubscribe: {
			access: "public",
			params: {
				token: { type: "string", min: 1, max: 200 },
				"List-Unsubscribe": { type: "equal", value: "One-Click", strict: true, optional: true },
			},
			async handler(ctx: Ctx<{ token: string }>): Promise<string> {
				const target = await this.unsubscribeTarget(ctx.params.token);
				const pref = target.preference;
				if (pref?.marketing_email !== false || pref.source !== "unsubscribe-link") {
					await this.db.transaction((trx) =>
						savePreference(trx, target.accountId, {
							marketingEmail: false,
							topics: pref?.topics ?? {},
							locale: pref?.locale ?? null,
							source: "unsubscribe-link",
							evidence: { ...evidenceOf(ctx), tokenIssuedAt: target.issuedAt.toISOString() },
						}),
					);
					this.logger.info({ accountId: target.accountId }, "unsubscribed from marketing by link");
				}
				ctx.meta.$responseType = "text/html; charset=utf-8";
				return donePage(target.email);
			},
		},

		/** R18: an offer to the holders of a product, sent in the background at a throttled rate. */
		createCampaign: {
			access: { roles: ["admin"] },
			params: {
				productCode: PRODUCT_CODE,
				subject: { type: "string", min: 1, max: 200, trim: true },
				message: { type: "string", min: 1, max: 5_000, trim: true },
				offerUrl: { type: "url", optional: true, max: 2_000 },
				ratePerSecond: { type: "number", integer: true, min: 1, max: 10_000, optional: true, convert: true },
			},
			async handler(ctx: Ctx<CampaignParams>) {
				const p = ctx.params;
				const config = portalConfig(this.broker);
				const rate = p.ratePerSecond ?? config.campaignRatePerSecond;
				if (rate > CAMPAIGN_MAX_RATE_PER_SECOND) {
					throw new ValidationError("The rate is too high.", [
						{ field: "ratePerSecond", message: `At most ${CAMPAIGN_MAX_RATE_PER_SECOND} mails per second.` },
					]);
				}
				if (p.offerUrl && !/^https?:\/\//i.test(p.offerUrl)) {
					throw new ValidationError("The offer link must be a web address.", [{ field: "offerUrl", message: "Use http or https." }]);
				}
				const campaign = await createCampaign(this.db, {
					productCode: p.productCode,
					subject: p.subject,
					message: p.message,
					offerUrl: p.offerUrl ?? config.publicUrl,
					ratePerSecond: rate,
					createdBy: ctx.meta.actor?.id ?? "",
				});
				this.logger.info({ campaignId: campaign.id, productCode: p.productCode, staffId: ctx.meta.actor?.id }, "campaign created");
				void this.runCampaigns().catch(() => undefined);
				ctx.meta.$statusCode = 202;
				return campaignView(campaign, await reportFor(this.db, campaign.id));
			},
		},

		listCampaigns: {
			access: { roles: ["admin"] },
			async handler() {
				const rows = await listCampaigns(this.db);
				return Promise.all(rows.map(async (c) => campaignView(c, await reportFor(this.db, c.id))));
			},
		},

		getCampaign: {
			access: { roles: ["admin"] },
			params: { id: "uuid" },
			async handler(ctx: Ctx<{ id: string }>) {
				const campaign = await findCampaign(this.db, ctx.params.id);
				if (!campaign) throw new NotFound("There is no such campaign.");
				return campaignView(campaign, await reportFor(this.db, campaign.id));
			},
		},

		/** Embedded mode's captured mail (API.md `GET /api/v1/dev/mailbox`); refused when mail really goes out. */
		devMailbox: {
			access: "public",
			params: {
				to: { type: "email", optional: true },
				limit: { type: "number", integer: true, min: 1, max: 200, optional: true, convert: true },
			},
			async handler(ctx: Ctx<{ to?: string; limit?: number }>) {
				const config = portalConfig(this.broker);
				if (!isMailCaptured(config) || config.nodeEnv === "production") throw new NotFound();
				const rows = await capturedFor(this.db, ctx.params.to, ctx.params.limit ?? 50);
				return rows.map((m) => ({
					to: m.to_address,
					from: m.from_address,
					subject: m.subject,
					text: m.text_body,
					html: m.html_body,
					headers: m.headers,
					links: linksOf(m.text_body),
					kind: m.kind,
					template: m.template,
					sentAt: m.sent_at,
				}));
			},
		},

		/** Personal-data contract: preferences, their history, the address book entry and the message log. */
		personalData: {
			params: {
				op: { type: "enum", values: ["describe", "export"] },
				accountId: { type: "uuid", optional: true },
			},
			async handler(ctx: Ctx<PersonalDataParams>): Promise<PersonalDataDescription | PersonalDataExport> {
				if (ctx.params.op === "describe") return personalDataDescription;
				const { accountId } = ctx.params;
				if (!accountId) throw new BadRequest("An export needs the account id.");
				const recipient = await findRecipient(this.db, accountId);
				return {
					service: "communications",
					records: {
						recipients: recipient ? [recipient] : [],
						recipient_products: await productsOf(this.db, accountId),
						preferences: await this.db("communications.preferences").where({ account_id: accountId }),
						preference_changes: await preferenceHistory(this.db, accountId),
						// The log says what was sent; bodies and headers may hold live links (tokens), so they stay out.
						mails: await this.db("communications.mails")
							.where({ account_id: accountId })
							.select("kind", "template", "to_address", "from_address", "subject", "status", "attempts", "created_at", "sent_at")
							.orderBy("created_at"),
						campaign_recipients: await campaignHistoryOf(this.db, accountId),
					},
				};
			},
		},
	},

	channels: {
		[Channels.accountCreated]: {
			group: "communications",
			context: true,
			maxInFlight: GROUP_COMMIT_IN_FLIGHT,
			handler(ctx: Ctx<AccountCreatedMessage>): Promise<undefined> {
				return this.purchaseFacts.submit({ kind: "account-created", message: ctx.params });
			},
		},
		[Channels.mailRequested]: {
			group: "communications",
			context: true,
			async handler(ctx: Ctx<MailRequestedMessage>) {
				const { idempotencyKey, accountId, to, template, data } = ctx.params;
				await this.queue({ idempotencyKey, accountId, to, template, data });
			},
		},
		[Channels.productAdded]: {
			group: "communications",
			context: true,
			maxInFlight: GROUP_COMMIT_IN_FLIGHT,
			handler(ctx: Ctx<ProductAddedMessage>): Promise<undefined> {
				return this.purchaseFacts.submit({ kind: "product-added", message: ctx.params });
			},
		},
		/** R10: our copy of the address follows the one the owner confirmed in profile. */
		[ProfileChannels.emailConfirmed]: {
			group: "communications",
			context: true,
			async handler(ctx: Ctx<ProfileEmailConfirmedMessage>) {
				const m = ctx.params;
				const known = await this.db.transaction(async (trx: Knex.Transaction) => {
					if (!(await firstDelivery(trx, "communications", m.messageId))) return true;
					return changeRecipientEmail(trx, m.accountId, m.email);
				});
				// Staff accounts, for one, never bought anything and so are not recipients here.
				if (!known) this.logger.info({ accountId: m.accountId }, "confirmed email for an account that is not a recipient");
			},
		},
	},

	methods: {
		/**
		 * A group of purchase facts in one transaction: each account becomes a recipient with its
		 * product; a new account gets the starting preference its jurisdiction decides (R18; a later
		 * choice is never overwritten) and its welcome mail, an existing one the product-added mail.
		 */
		async recordPurchaseFacts(facts: PurchaseFact[]): Promise<undefined[]> {
			const config = portalConfig(this.broker);
			const created = facts.flatMap((f) => (f.kind === "account-created" ? [f.message] : []));
			await this.db.transaction(async (trx: Knex.Transaction) => {
				await upsertRecipients(
					trx,
					facts.map(({ kind, message: m }) =>
						kind === "account-created"
							? {
									account_id: m.accountId,
									email: m.email,
									username: m.username,
									given_name: m.givenName,
									country: m.country,
									region: m.region,
								}
							: { account_id: m.accountId, email: m.email, username: m.username },
					),
					facts.map(({ message: m }) => ({ account_id: m.accountId, ...m.product })),
				);
				await startingPreferences(
					trx,
					created.map((m) => {
						const optIn = needsOptIn(m.country, config.marketingOptInCountries);
						return {
							accountId: m.accountId,
							marketingEmail: !optIn,
							source: optIn ? "jurisdiction-default" : "default",
							evidence: { country: m.country ?? null, region: m.region ?? null, optInRequired: optIn, messageId: m.messageId },
						};
					}),
				);
				const locales = await localesOf(
					trx,
					facts.map((f) => f.message.accountId),
				);
				await enqueueMails(
					trx,
					facts.map((fact) => {
						const { data, ...mail } = purchaseMail(fact, config.publicUrl);
						return compose(mail, data, locales.get(fact.message.accountId) ?? null, config);
					}),
				);
			});
			void this.deliver().catch(() => undefined);
			return facts.map(() => undefined);
		},

		/**
		 * Renders and queues a mail once per idempotency key, in the account's language. Service mail
		 * always goes (R19); marketing only where the rule allows it (R18), from the marketing sender,
		 * with the one-click unsubscribe headers and link (R20). Delivery happens in the background.
		 */
		async queue({ data, topic, ...mail }: QueueRequest, trx?: Knex.Transaction): Promise<QueueOutcome> {
			const db = trx ?? this.db;
			const template = templateFor(mail.template);
			const config = portalConfig(this.broker);
			let headers: Record<string, string> = {};
			let values = data;
			if (template.kind === "marketing") {
				const facts = mail.accountId ? await marketingFacts(db, mail.accountId) : { known: false, bounced: false, preference: null };
				const blocked = marketingBlock(facts, topic);
				if (blocked || !mail.accountId) return { suppressed: blocked ?? "unknown-recipient" };
				const url = `${config.publicUrl}/api/v1/unsubscribe?token=${signUnsubscribeToken(config.sessionSecret, mail.accountId)}`;
				values = { ...data, [UNSUBSCRIBE_FIELD]: url };
				headers = { "List-Unsubscribe": `<${url}>`, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" };
			}
			const locale = mail.accountId ? ((await findPreference(db, mail.accountId))?.locale ?? null) : null;
			const queued = await enqueueMail(db, compose(mail, values, locale, config, headers));
			if (queued && !trx) void this.deliver().catch(() => undefined);
			return { queued };
		},

		/** One delivery pass at a time per replica; replicas share the queue through row locks. */
		deliver(): Promise<number> {
			if (!this.deliveryRun) {
				const metrics = this.broker.isMetricsEnabled() ? this.broker.metrics : undefined;
				// Captured mail (development) counts as sent: it reached the only mailbox there is.
				const count = (outcome: DeliveryOutcome) => {
					if (outcome === "sent") metrics?.increment(DomainMetric.mailsSent);
					else if (outcome !== "retry") metrics?.increment(DomainMetric.mailsFailed);
				};
				this.deliveryRun = deliverDue(this.db, this.sender, count).finally(() => {
					this.deliveryRun = undefined;
				});
			}
			return this.deliveryRun;
		},

		/** Works through every due campaign batch; one run at a time per replica. */
		runCampaigns(): Promise<number> {
			if (!this.campaignRun) {
				this.campaignRun = (async () => {
					let batches = 0;
					while (await this.campaignBatch()) batches += 1;
					if (batches > 0) void this.deliver().catch(() => undefined);
					return batches;
				})().finally(() => {
					this.campaignRun = undefined;
				});
			}
			return this.campaignRun;
		},

		/**
		 * One second's worth of one campaign, in one transaction: the recipients' preferences and
		 * suppression are read now, each mail is queued with the campaign's idempotency key, and the
		 * campaign's next batch is set a second later. A crash rolls the batch back; any replica
		 * picks it up again, and the keys make a mail that was queued twice go out once.
		 */
		async campaignBatch(): Promise<boolean> {
			if (!(await anyCampaignDue(this.db))) return false;
			return this.db.transaction(async (trx: Knex.Transaction) => {
				const campaign = await claimDueCampaign(trx);
				if (!campaign) return false;
				if (!campaign.resolved_at) await resolveHolders(trx, campaign);
				const batch = await pendingRecipients(trx, campaign.id, campaign.rate_per_second);
				for (const { account_id } of batch) {
					const recipient = await findRecipient(trx, account_id);
					const idempotencyKey = `campaign:${campaign.id}:${account_id}`;
					const outcome = recipient
						? await this.queue(
								{
									idempotencyKey,
									accountId: account_id,
									template: "marketing-offer",
									to: recipient.email,
									topic: campaign.product_code,
									data: {
										name: recipient.given_name ?? recipient.username,
										subject: campaign.subject,
										message: campaign.message,
										offerUrl: campaign.offer_url,
										productName:
											(await productsOf(trx, account_id)).find((p) => p.product_code === campaign.product_code)?.product_name ??
											campaign.product_code,
									},
								},
								trx,
							)
						: ({ suppressed: "unknown-recipient" } as const);
					await decide(trx, campaign.id, account_id, "suppressed" in outcome ? outcome : { queued: idempotencyKey });
				}
				const finished = batch.length < campaign.rate_per_second;
				await scheduleNext(trx, campaign.id, finished, new Date(Date.now() + 1_000));
				if (finished) this.logger.info({ campaignId: campaign.id }, "campaign fully queued");
				return true;
			});
		},

		async preferencesOf(accountId: string): Promise<PreferencesView> {
			// One snapshot: an account's creation committing between two reads would show half of it
			// (a preference without its recipient's country).
			const [recipient, pref, products, history] = await this.db.transaction(
				async (trx) =>
					[
						await findRecipient(trx, accountId),
						await findPreference(trx, accountId),
						await productsOf(trx, accountId),
						await preferenceHistory(trx, accountId),
					] as const,
				{ isolationLevel: "repeatable read" },
			);
			const optInRequired = needsOptIn(recipient?.country, portalConfig(this.broker).marketingOptInCountries);
			const topics = pref?.topics ?? {};
			return {
				marketing: { email: pref?.marketing_email ?? !optInRequired },
				topics: Object.fromEntries(products.map((p) => [p.product_code, topics[p.product_code] !== false])),
				products: products.map((p) => ({ code: p.product_code, name: p.product_name })),
				serviceMessages: "always",
				serviceMessagesNote: SERVICE_MESSAGES_NOTE,
				locale: pref?.locale ?? null,
				jurisdiction: { country: recipient?.country ?? null, optInRequired },
				updatedAt: pref ? new Date(pref.updated_at).toISOString() : null,
				history: history.map((h) => ({
					at: new Date(h.at).toISOString(),
					source: h.source,
					marketing: { email: h.marketing_email },
					topics: h.topics,
				})),
			};
		},

		/** Checks an unsubscribe token: a bad one is refused with 400, an expired one with 410, nothing changes. */
		async unsubscribeTarget(token: string): Promise<UnsubscribeTarget> {
			const check = verifyUnsubscribeToken(portalConfig(this.broker).sessionSecret, token);
			if (!check.ok) {
				if (check.reason === "expired")
					throw new Gone("This unsubscribe link has expired. Change your preferences in the portal.", "TOKEN_EXPIRED");
				throw new BadRequest("This unsubscribe link is not valid.", "INVALID_TOKEN");
			}
			const recipient = await findRecipient(this.db, check.accountId);
			return {
				accountId: check.accountId,
				issuedAt: check.issuedAt,
				email: recipient?.email ?? "your address",
				preference: await findPreference(this.db, check.accountId),
			};
		},
	},

	created() {
		this.sender = createSender(portalConfig(this.broker).smtpUrl);
		this.purchaseFacts = new GroupCommit((facts) => this.recordPurchaseFacts(facts));
	},

	started() {
		const loop = (work: () => Promise<number>, intervalMs: number, what: string, timer: "deliveryTimer" | "campaignTimer") => {
			const tick = () => {
				this.dbReady
					.then(work)
					.catch((err) => this.logger.warn({ err: String(err) }, `${what} failed; will retry`))
					.finally(() => {
						if (this[timer]) this[timer] = setTimeout(tick, intervalMs);
					});
			};
			this[timer] = setTimeout(tick, intervalMs);
		};
		loop(() => this.deliver(), DELIVERY_INTERVAL_MS, "mail delivery pass", "deliveryTimer");
		loop(() => this.runCampaigns(), CAMPAIGN_INTERVAL_MS, "campaign pass", "campaignTimer");
	},

	async stopped() {
		clearTimeout(this.deliveryTimer);
		clearTimeout(this.campaignTimer);
		this.deliveryTimer = undefined;
		this.campaignTimer = undefined;
		await this.campaignRun?.catch(() => undefined);
		await this.deliveryRun?.catch(() => undefined);
		this.sender.close();
	},
});

export default CommunicationsService;
