import { randomUUID } from "node:crypto";
import {
	type AuditRecordedMessage,
	Channels,
	type PersonalDataDescription,
	type PersonalDataExportPage,
	type PortalMeta,
	type UsageKind,
	type UsageRecordedMessage,
} from "@portal/contracts";
import {
	Conflict,
	Database,
	type DatabaseThis,
	defineService,
	NotFound,
	portalConfig,
	Unauthorized,
	ValidationError,
} from "@portal/platform";
import type { Context, ServiceSettingSchema } from "moleculer";
import { migrations } from "../migrations";
import { appendAudit, auditPage } from "./audit";
import { activeHolds, liftHold, placeHold } from "./holds.repo";
import { createLink, findLink, isAllowedTarget } from "./links";
import { description, exportPage } from "./personal-data";
import { purgeExpired } from "./retention";
import type { ActivitySummary, AuditInput, AuditRow, LegalHoldRow, PurgeOutcome, UsageRecord } from "./types";
import { insertUsageBatch, summarize } from "./usage.repo";
import { BatchBuffer } from "./usage-buffer";

export interface ActivityLogSettings extends ServiceSettingSchema {
	/** Usage records per insert, the longest a partial batch waits, and the most held in memory. */
	batchSize: number;
	flushMs: number;
	maxPending: number;
	purgeIntervalMs: number;
	/** The first purge waits this long after start, so a rolling restart does not purge on every pod at once. */
	purgeFirstDelayMs: number;
	purgeBatchSize: number;
}

interface Vars {
	settings: ActivityLogSettings;
	usage: BatchBuffer<UsageRecord>;
	purgeTimer?: NodeJS.Timeout;
	purgeRun?: Promise<PurgeOutcome>;
	purge(now: Date): Promise<PurgeOutcome>;
	audit(entry: AuditInput): Promise<AuditRow | null>;
}
type ActivityLogThis = DatabaseThis & Vars;
type Meta = PortalMeta & { $location?: string };
type Ctx<P = unknown> = Context<P, Meta>;

const DEFAULT_SETTINGS: ActivityLogSettings = {
	// Large batches: a 2 000-row statement costs little more than a 500-row one, and each batch
	// commit releases its messages' acknowledgements in one wave.
	batchSize: 2_000,
	flushMs: 50,
	maxPending: 10_000,
	purgeIntervalMs: 3_600_000,
	purgeFirstDelayMs: 300_000,
	purgeBatchSize: 5_000,
};

const USAGE_KINDS: readonly UsageKind[] = ["sign-in", "sign-in-failed", "link-click"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isDate = (value: unknown): value is string => typeof value === "string" && !Number.isNaN(Date.parse(value));
const isValidDate = (value: Date | undefined): value is Date => value !== undefined && !Number.isNaN(value.getTime());
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The actor's account, or 401: every "me" route is about the caller's own records. */
function ownAccount(ctx: Ctx): string {
	const id = ctx.meta.actor?.id;
	if (!id || ctx.meta.actor?.kind === "system") throw new Unauthorized();
	return id;
}

const holdView = (h: LegalHoldRow) => ({
	accountId: h.account_id,
	reason: h.reason,
	placedBy: h.placed_by,
	placedAt: new Date(h.placed_at).toISOString(),
	liftedAt: h.lifted_at ? new Date(h.lifted_at).toISOString() : null,
});

const ActivityLogService = defineService<ActivityLogThis>({
	name: "activityLog",
	mixins: [Database({ schema: "activity_log", migrations })],

	settings: DEFAULT_SETTINGS,

	actions: {
		/** A click in the portal UI (API.md): answered once the record is durable. */
		click: {
			access: "signedIn",
			params: {
				linkId: { type: "string", min: 1, max: 100, trim: true },
				href: { type: "string", min: 1, max: 2048, trim: true },
			},
			async handler(ctx: Ctx<{ linkId: string; href: string }>): Promise<void> {
				const accountId = ownAccount(ctx);
				await this.usage.add({
					messageId: randomUUID(),
					accountId,
					kind: "link-click",
					at: new Date(),
					detail: { linkId: ctx.params.linkId, href: ctx.params.href },
				});
				ctx.meta.$statusCode = 204;
			},
		},

		/**
		 * A tracked link for a mail (communications or any service asks): the code leads to `href` via
		 * `GET /l/:code`, counting the click for the account. Only the portal's and allow-listed hosts.
		 */
		createLink: {
			params: {
				accountId: { type: "uuid", optional: true },
				linkId: { type: "string", min: 1, max: 100, trim: true },
				href: { type: "string", min: 1, max: 2048, trim: true },
			},
			async handler(ctx: Ctx<{ accountId?: string; linkId: string; href: string }>): Promise<{ code: string; url: string }> {
				const { publicUrl, linkHosts } = portalConfig(this.broker);
				if (!isAllowedTarget(ctx.params.href, publicUrl, linkHosts)) {
					throw new ValidationError("Links may only lead to the portal or an allowed host.", [
						{ field: "href", message: "host not on the allow-list" },
					]);
				}
				const code = await createLink(this.db, ctx.params);
				return { code, url: `${publicUrl}/l/${code}` };
			},
		},

		/** `GET /l/:code`: records the click, then redirects; unknown codes and disallowed targets get 404. */
		follow: {
			access: "public",
			// Mail clients and scanners append their own query parameters: ignore them.
			params: { $$strict: "remove", code: { type: "string", pattern: /^[A-Za-z0-9_-]{22}$/ } },
			async handler(ctx: Ctx<{ code: string }>): Promise<void> {
				const link = await findLink(this.db, ctx.params.code);
				const { publicUrl, linkHosts } = portalConfig(this.broker);
				if (!link || !isAllowedTarget(link.href, publicUrl, linkHosts)) {
					throw new NotFound("This link is unknown or has expired.", "LINK_NOT_FOUND");
				}
				if (link.account_id) {
					await this.usage.add({
						messageId: randomUUID(),
						accountId: link.account_id,
						kind: "link-click",
						at: new Date(),
						detail: { linkId: link.link_id, href: link.href, via: "mail" },
					});
				}
				ctx.meta.$statusCode = 302;
				ctx.meta.$location = link.href;
			},
		},

		/** The owner's counts and recent records (R16), from the daily counters. */
		summary: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<ActivitySummary> {
				return summarize(this.db, ownAccount(ctx), new Date(), portalConfig(this.broker).retentionDays);
			},
		},

		/** The owner's audit trail with its hash chain (R17), newest first, paged by `before` (a seq). */
		auditTrail: {
			access: "signedIn",
			params: {
				before: { type: "number", integer: true, min: 1, optional: true, convert: true },
				limit: { type: "number", integer: true, min: 1, max: 200, optional: true, convert: true },
			},
			async handler(ctx: Ctx<{ before?: number; limit?: number }>) {
				const limit = ctx.params.limit ?? 50;
				const rows = await auditPage(this.db, ownAccount(ctx), ctx.params.before, limit);
				const last = rows[rows.length - 1];
				return {
					entries: rows.map((r) => ({
						seq: r.seq,
						action: r.action,
						actor: r.actor,
						at: new Date(r.at).toISOString(),
						detail: r.detail,
						prevHash: r.prev_hash,
						hash: r.hash,
					})),
					nextBefore: last && rows.length === limit && last.seq > 1 ? last.seq : null,
				};
			},
		},

		listHolds: {
			access: { roles: ["compliance"] },
			async handler() {
				return { holds: (await activeHolds(this.db)).map(holdView) };
			},
		},

		/** Places a legal hold: the account's usage records are kept past retention until it is lifted (R15). */
		placeHold: {
			access: { roles: ["compliance"] },
			params: { accountId: "uuid", reason: { type: "string", min: 3, max: 1000, trim: true } },
			async handler(ctx: Ctx<{ accountId: string; reason: string }>) {
				const { accountId, reason } = ctx.params;
				const staffId = ctx.meta.actor?.id as string;
				const found = await ctx.call<unknown[], { ids: string[] }>("identity.lookup", { ids: [accountId] });
				if (found.length === 0) throw new NotFound("There is no such account.", "ACCOUNT_NOT_FOUND");
				const hold = await this.db.transaction(async (trx) => {
					const placed = await placeHold(trx, accountId, reason, staffId);
					if (!placed) throw new Conflict("The account is already under a legal hold.", "LEGAL_HOLD_EXISTS");
					await appendAudit(trx, {
						messageId: `legal-hold:${placed.id}:placed`,
						accountId,
						action: "activity.legalHold.placed",
						actor: { kind: "staff", id: staffId },
						at: new Date(placed.placed_at),
						detail: { reason },
					});
					return placed;
				});
				this.logger.info({ accountId, staffId }, "legal hold placed");
				ctx.meta.$statusCode = 201;
				return holdView(hold);
			},
		},

		liftHold: {
			access: { roles: ["compliance"] },
			params: { accountId: "uuid" },
			async handler(ctx: Ctx<{ accountId: string }>): Promise<void> {
				const { accountId } = ctx.params;
				const staffId = ctx.meta.actor?.id as string;
				await this.db.transaction(async (trx) => {
					const lifted = await liftHold(trx, accountId, staffId);
					if (!lifted) throw new NotFound("The account is not under a legal hold.", "LEGAL_HOLD_NOT_FOUND");
					await appendAudit(trx, {
						messageId: `legal-hold:${lifted.id}:lifted`,
						accountId,
						action: "activity.legalHold.lifted",
						actor: { kind: "staff", id: staffId },
						at: new Date(lifted.lifted_at as Date),
						detail: {},
					});
				});
				this.logger.info({ accountId, staffId }, "legal hold lifted");
				ctx.meta.$statusCode = 204;
			},
		},

		/** One retention pass now (the schedule calls it too); `now` lets an operator or a test move the clock. */
		purge: {
			params: { now: { type: "date", convert: true, optional: true } },
			handler(ctx: Ctx<{ now?: Date }>): Promise<PurgeOutcome> {
				return this.purge(ctx.params.now ?? new Date());
			},
		},

		/** Writes what is buffered now (operators, tests, and the shutdown path). */
		flush: {
			handler(): Promise<void> {
				return this.usage.flush();
			},
		},

		personalData: {
			params: {
				op: { type: "enum", values: ["describe", "export"] },
				accountId: { type: "uuid", optional: true },
				cursor: { type: "string", optional: true, max: 500 },
			},
			async handler(
				ctx: Ctx<{ op: "describe" | "export"; accountId?: string; cursor?: string }>,
			): Promise<PersonalDataDescription | PersonalDataExportPage> {
				if (ctx.params.op === "describe") return description;
				if (!ctx.params.accountId) throw new ValidationError("An export needs an account.", [{ field: "accountId", message: "required" }]);
				return exportPage(this.db, ctx.params.accountId, ctx.params.cursor);
			},
		},
	},

	channels: {
		/**
		 * Sign-ins from identity (R14). Two batches' worth of messages are in flight, so that the next
		 * batch fills while one is written; each is acknowledged only when its batch is committed, and
		 * a redelivered one is skipped by its message id. The handler returns the buffer's promise
		 * rather than awaiting it: thousands of messages wait on a batch, and an awaiting handler kept
		 * each one's context and parsed message alive that long (most of the garbage collector's work).
		 */
		[Channels.usageRecorded]: {
			group: "activityLog",
			context: true,
			maxInFlight: 2 * DEFAULT_SETTINGS.batchSize,
			handler(ctx: Ctx<UsageRecordedMessage>): Promise<void> {
				const m = ctx.params;
				const at = typeof m?.at === "string" ? new Date(m.at) : undefined;
				if (!m || typeof m.messageId !== "string" || !UUID.test(String(m.accountId)) || !USAGE_KINDS.includes(m.kind) || !isValidDate(at)) {
					// Never valid, whatever the retries: drop it loudly instead of blocking the channel.
					this.logger.warn({ messageId: m?.messageId }, "malformed usage message dropped");
					return Promise.resolve();
				}
				const detail: Record<string, string> = {};
				if (isRecord(m.detail)) for (const [key, value] of Object.entries(m.detail)) detail[key] = String(value).slice(0, 2048);
				return this.usage.add({ messageId: m.messageId, accountId: m.accountId, kind: m.kind, at, detail });
			},
		},

		/** Security and privacy events from every service, appended to the account's hash chain (R17). */
		[Channels.auditRecorded]: {
			group: "activityLog",
			context: true,
			maxInFlight: 20,
			async handler(ctx: Ctx<AuditRecordedMessage>) {
				const m = ctx.params;
				const valid =
					m &&
					typeof m.messageId === "string" &&
					UUID.test(String(m.accountId)) &&
					typeof m.action === "string" &&
					m.action.length > 0 &&
					isRecord(m.actor) &&
					typeof m.actor.kind === "string" &&
					typeof m.actor.id === "string" &&
					isDate(m.at);
				if (!valid) {
					this.logger.warn({ messageId: m?.messageId }, "malformed audit message dropped");
					return;
				}
				await this.audit({
					messageId: m.messageId,
					accountId: m.accountId,
					action: m.action,
					actor: m.actor,
					at: new Date(m.at),
					detail: isRecord(m.detail) ? m.detail : {},
				});
			},
		},
	},

	methods: {
		audit(entry: AuditInput): Promise<AuditRow | null> {
			return this.db.transaction((trx) => appendAudit(trx, entry));
		},

		/** One purge per replica at a time; across replicas the advisory lock decides. */
		purge(now: Date): Promise<PurgeOutcome> {
			if (this.purgeRun) return Promise.resolve({ ran: false, reason: "a purge is already running on this replica" });
			this.purgeRun = this.dbReady
				.then(() =>
					purgeExpired(this.db, {
						now,
						retentionDays: portalConfig(this.broker).retentionDays,
						batchSize: this.settings.purgeBatchSize,
						nodeId: this.broker.nodeID,
					}),
				)
				.then((outcome) => {
					this.logger.info(outcome, outcome.ran ? "usage retention purge done" : "usage retention purge skipped");
					return outcome;
				})
				.finally(() => {
					this.purgeRun = undefined;
				});
			return this.purgeRun;
		},
	},

	created() {
		this.usage = new BatchBuffer(
			(batch) => insertUsageBatch(this.db, batch),
			this.settings,
			(err, size) => this.logger.error({ err: String(err), size }, "usage batch not written; its senders were told"),
		);
	},

	started() {
		const tick = () => {
			this.purge(new Date())
				.catch((err) => this.logger.warn({ err: String(err) }, "usage retention purge failed; will retry"))
				.finally(() => {
					if (this.purgeTimer) this.purgeTimer = setTimeout(tick, this.settings.purgeIntervalMs);
				});
		};
		this.purgeTimer = setTimeout(tick, this.settings.purgeFirstDelayMs);
	},

	async stopped() {
		clearTimeout(this.purgeTimer);
		this.purgeTimer = undefined;
		// Graceful shutdown loses nothing: every buffered record is written before the database closes.
		await this.usage.close();
		await this.purgeRun?.catch(() => undefined);
	},
});

export default ActivityLogService;
