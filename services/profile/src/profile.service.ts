import {
	type AccountCreatedMessage,
	type Actor,
	Channels,
	type CheckParams,
	type CheckResult,
	type MailRequestedMessage,
	type PersonalDataDescription,
	type PersonalDataExport,
	type PersonalDataParams,
	type PortalMeta,
	PROFILE_SECTIONS,
	ProfileChannels,
	type ProfileEmailConfirmedMessage,
	type ProfileSection,
	type RequestInfo,
	type SharePermission,
} from "@portal/contracts";
import {
	Database,
	type DatabaseThis,
	defineService,
	Forbidden,
	firstDelivery,
	forgetCached,
	type Knex,
	NotFound,
	OutageSafeCache,
	Outbox,
	type OutboxThis,
	PreconditionFailed,
	portalConfig,
	Unauthorized,
	Unavailable,
	ValidationError,
} from "@portal/platform";
import { type ActionParams, Cachers, type Context, Errors } from "moleculer";
import { migrations } from "../migrations";
import { consumeEmailToken, pendingEmail, requestEmailChange } from "./email-changes.repo";
import { FIELDS, normalizePatch, type ProfilePatch, patchParams } from "./fields";
import { ledgerOf, recordAccess } from "./ledger.repo";
import { ALL_OWNER_VIEWS, type CachedOwnerView, isFresh, OWNER_VIEW_CHANGED_EVENT, ownerViewKey, ttlFor } from "./owner-view-cache";
import { applyChanges, ensureProfile, etagOf, findProfile, ifMatchHolds, lockProfile, revisionsOf, toView } from "./profiles.repo";
import type { ChangeAuthor, LedgerView, ProfileRow, ProfileView, RevisionView } from "./types";

/** The gateway forwards `If-Match` on the request facts (see gateway/src/routes/profile.routes.ts). */
type ProfileMeta = PortalMeta & { request?: RequestInfo & { ifMatch?: string } };
type Ctx<P = unknown> = Context<P, ProfileMeta>;

interface ProfileMethods {
	actorOf(ctx: Ctx): Actor;
	authorOf(ctx: Ctx): ChangeAuthor;
	allowedSections(
		ctx: Ctx,
		ownerId: string,
		actorId: string,
		permission: SharePermission,
		sections: readonly ProfileSection[],
	): Promise<ProfileSection[]>;
	patch(ctx: Ctx, ownerId: string, patch: ProfilePatch, visible: readonly ProfileSection[]): Promise<ProfileView>;
	respond(ctx: Ctx, row: ProfileRow, sections: readonly ProfileSection[], withPending: boolean): Promise<ProfileView>;
	ownView(ctx: Ctx, accountId: string): Promise<ProfileView>;
	forgetOwnView(accountId: string): Promise<void>;
}
type ProfileThis = DatabaseThis & OutboxThis & ProfileMethods & { ownerViews: OutageSafeCache };

/** R10: how long the confirmation link for a new email works. */
const EMAIL_CHANGE_TTL_MS = 24 * 3_600_000;
/** How long profile waits for sharing before answering 503 (fails closed, ARCHITECTURE rule 4). */
const CHECK_TIMEOUT_MS = 3_000;

class PreconditionRequired extends Errors.MoleculerClientError {
	constructor() {
		super("Send If-Match with the ETag you read, so that a concurrent change is not lost.", 428, "PRECONDITION_REQUIRED");
	}
}

const patchSchema = patchParams() as ActionParams;

const ProfileService = defineService<ProfileThis>({
	name: "profile",
	mixins: [Database({ schema: "profile", migrations }), Outbox({ schema: "profile" })],

	actions: {
		/** R9: the owner reads every field. */
		getMine: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<ProfileView> {
				return this.ownView(ctx, this.actorOf(ctx).id);
			},
		},

		/** R9, R10: the owner changes any field; the email only through confirmation. If-Match required. */
		updateMine: {
			access: "signedIn",
			params: patchSchema,
			async handler(ctx: Ctx<ProfilePatch>): Promise<ProfileView> {
				const actor = this.actorOf(ctx);
				await ensureProfile(this.db, actor.id);
				return this.patch(ctx, actor.id, ctx.params, PROFILE_SECTIONS);
			},
		},

		revisions: {
			access: "signedIn",
			params: { limit: { type: "number", integer: true, min: 1, max: 500, convert: true, optional: true } },
			async handler(ctx: Ctx<{ limit?: number }>): Promise<RevisionView[]> {
				const rows = await revisionsOf(this.db, this.actorOf(ctx).id, ctx.params.limit ?? 100);
				return rows.map((r) => ({
					id: r.id,
					version: r.version,
					at: new Date(r.at).toISOString(),
					by: { kind: r.actor_kind, id: r.actor_id },
					ip: r.ip,
					userAgent: r.user_agent,
					changes: r.changes,
				}));
			},
		},

		/** R10: the link from the mail to the new address (`/confirm-email?token=…` calls this). */
		confirmEmail: {
			access: "public",
			params: { token: { type: "string", min: 1, max: 200 } },
			async handler(ctx: Ctx<{ token: string }>): Promise<{ email: string }> {
				const { accountId, email } = await this.db.transaction(async (trx) => {
					const change = await consumeEmailToken(trx, ctx.params.token);
					const row = (await lockProfile(trx, change.account_id)) as ProfileRow;
					await applyChanges(
						trx,
						row,
						{ email: change.new_email },
						{
							kind: "email-confirmation",
							id: change.account_id,
							ip: ctx.meta.request?.ip ?? null,
							userAgent: ctx.meta.request?.userAgent ?? null,
						},
					);
					await this.enqueue<ProfileEmailConfirmedMessage>(trx, ProfileChannels.emailConfirmed, {
						accountId: change.account_id,
						previousEmail: row.email,
						email: change.new_email,
						confirmedAt: new Date().toISOString(),
					});
					return { accountId: change.account_id, email: change.new_email };
				});
				await this.forgetOwnView(accountId);
				void this.relayOutbox().catch(() => undefined);
				return { email };
			},
		},

		/** R11: a grantee reads only the sections granted; 404 when nothing is (existence is private). */
		getShared: {
			access: "signedIn",
			params: { accountId: "uuid" },
			async handler(ctx: Ctx<{ accountId: string }>): Promise<ProfileView> {
				const actor = this.actorOf(ctx);
				const ownerId = ctx.params.accountId;
				if (ownerId === actor.id) return this.ownView(ctx, actor.id);
				const sections = await this.allowedSections(ctx, ownerId, actor.id, "view", PROFILE_SECTIONS);
				const row = sections.length > 0 ? await findProfile(this.db, ownerId) : undefined;
				if (!row) throw new NotFound("No profile is shared with you here.", "PROFILE_NOT_FOUND");
				await recordAccess(this.db, { ownerId, actorId: actor.id, action: "read", sections, ip: ctx.meta.request?.ip ?? null });
				return this.respond(ctx, row, sections, false);
			},
		},

		/** R11: an editor changes only the sections granted to edit; nobody but the owner changes the email. */
		updateShared: {
			access: "signedIn",
			params: { accountId: "uuid", ...patchSchema },
			async handler(ctx: Ctx<ProfilePatch & { accountId: string }>): Promise<ProfileView> {
				const actor = this.actorOf(ctx);
				const { accountId: ownerId, ...patch } = ctx.params;
				if (ownerId === actor.id) {
					await ensureProfile(this.db, actor.id);
					return this.patch(ctx, actor.id, patch, PROFILE_SECTIONS);
				}
				const visible = await this.allowedSections(ctx, ownerId, actor.id, "view", PROFILE_SECTIONS);
				if (visible.length === 0 || !(await findProfile(this.db, ownerId))) {
					throw new NotFound("No profile is shared with you here.", "PROFILE_NOT_FOUND");
				}
				const wanted = Object.keys(patch) as ProfileSection[];
				const editable = await this.allowedSections(ctx, ownerId, actor.id, "edit", wanted);
				const refused = wanted.filter((s) => !editable.includes(s));
				if (refused.length > 0) throw new Forbidden(`You may not edit: ${refused.join(", ")}.`, "SECTION_NOT_EDITABLE");
				if (patch.contact?.email !== undefined) throw new Forbidden("Only the owner can change the email address.", "OWNER_ONLY");
				return this.patch(ctx, ownerId, patch, visible);
			},
		},

		/** R13: every read or edit of my information by someone else. */
		ledger: {
			access: "signedIn",
			params: { limit: { type: "number", integer: true, min: 1, max: 500, convert: true, optional: true } },
			async handler(ctx: Ctx<{ limit?: number }>): Promise<LedgerView[]> {
				const rows = await ledgerOf(this.db, this.actorOf(ctx).id, ctx.params.limit ?? 100);
				const ids = [...new Set(rows.map((r) => r.actor_id))];
				const accounts = ids.length
					? await ctx.call<{ id: string; username: string }[], { ids: string[] }>("identity.lookup", { ids })
					: [];
				const names = new Map(accounts.map((a) => [a.id, a.username]));
				return rows.map((r) => ({
					id: r.id,
					at: new Date(r.at).toISOString(),
					actor: { accountId: r.actor_id, username: names.get(r.actor_id) ?? null },
					action: r.action,
					sections: r.sections,
					ip: r.ip,
				}));
			},
		},

		/** The personal-data contract (ARCHITECTURE rule 7). Token hashes never leave. */
		personalData: {
			params: { op: { type: "enum", values: ["describe", "export"] }, accountId: { type: "uuid", optional: true } },
			async handler(ctx: Ctx<PersonalDataParams>): Promise<PersonalDataDescription | PersonalDataExport> {
				if (ctx.params.op === "describe") return DESCRIPTION;
				const id = ctx.params.accountId;
				return {
					service: "profile",
					records: {
						profile: await this.db("profile.profiles").where({ account_id: id }),
						revisions: await this.db("profile.revisions").where({ account_id: id }).orderBy("version"),
						emailChanges: await this.db("profile.email_changes")
							.where({ account_id: id })
							.select("id", "new_email", "created_at", "expires_at", "used_at", "superseded_at")
							.orderBy("created_at"),
						accessToMyProfile: await this.db("profile.access_ledger").where({ account_id: id }).orderBy("at"),
						myAccessToOthers: await this.db("profile.access_ledger").where({ actor_id: id }).orderBy("at"),
					},
				};
			},
		},
	},

	events: {
		/** Another node changed a profile: drop this node's own (memory) copy. */
		[OWNER_VIEW_CHANGED_EVENT]: {
			params: { accountId: "uuid" },
			async handler(ctx: Context<{ accountId: string }>) {
				const cacher = this.broker.cacher;
				// A shared Redis was cleaned by the writer itself, before it answered.
				if (!cacher || cacher instanceof Cachers.Redis) return;
				await cacher.del(ownerViewKey(ctx.params.accountId));
			},
		},
	},

	channels: {
		/** R9: the profile starts with what the purchase told us; fields already set are kept. */
		[Channels.accountCreated]: {
			group: "profile",
			context: true,
			async handler(ctx: Context<AccountCreatedMessage>) {
				const m = ctx.params;
				const seed = normalizePatch(
					{
						name: { givenName: m.givenName ?? null, familyName: m.familyName ?? null },
						address: { country: m.country ?? null, region: m.region ?? null },
						employment: { company: m.company ?? null },
					},
					{},
				);
				// A country the purchase got wrong is dropped rather than refusing the whole seed.
				const changes =
					"changes" in seed
						? seed.changes
						: { given_name: m.givenName ?? null, family_name: m.familyName ?? null, company: m.company ?? null };
				changes.email = m.email;
				await this.db.transaction(async (trx: Knex.Transaction) => {
					if (!(await firstDelivery(trx, "profile", m.messageId))) return;
					await trx("profile.profiles").insert({ account_id: m.accountId }).onConflict("account_id").ignore();
					const row = (await lockProfile(trx, m.accountId)) as ProfileRow;
					const fill: Record<string, string | null> = {};
					for (const [column, value] of Object.entries(changes)) {
						if (value !== null && row[column as keyof ProfileRow] === null) fill[column] = value;
					}
					await applyChanges(trx, row, fill, { kind: "system", id: "purchase", ip: null, userAgent: null });
				});
				await this.forgetOwnView(m.accountId);
			},
		},
	},

	methods: {
		actorOf(ctx: Ctx): Actor {
			const actor = ctx.meta.actor;
			if (!actor || actor.kind === "system") throw new Unauthorized();
			return actor;
		},

		authorOf(ctx: Ctx): ChangeAuthor {
			const actor = this.actorOf(ctx);
			return { kind: actor.kind, id: actor.id, ip: ctx.meta.request?.ip ?? null, userAgent: ctx.meta.request?.userAgent ?? null };
		},

		/** Asks sharing, section by section. Any failure to answer is a 503, never data (fails closed). */
		async allowedSections(
			ctx: Ctx,
			ownerId: string,
			actorId: string,
			permission: SharePermission,
			sections: readonly ProfileSection[],
		): Promise<ProfileSection[]> {
			try {
				const answers = await Promise.all(
					sections.map((section) =>
						ctx.call<CheckResult, CheckParams>("sharing.check", { ownerId, actorId, section, permission }, { timeout: CHECK_TIMEOUT_MS }),
					),
				);
				return sections.filter((_, i) => answers[i]?.allowed === true);
			} catch (err) {
				this.logger.warn({ err: String(err) }, "sharing.check did not answer; refusing");
				throw new Unavailable("Sharing permissions cannot be checked right now. Please try again.", "SHARING_UNAVAILABLE");
			}
		},

		/** One PATCH: If-Match (428 without, 412 when stale), field validation, revision, and R10's email flow. */
		async patch(ctx: Ctx, ownerId: string, patch: ProfilePatch, visible: readonly ProfileSection[]): Promise<ProfileView> {
			const ifMatch = ctx.meta.request?.ifMatch;
			if (!ifMatch) throw new PreconditionRequired();
			const author = this.authorOf(ctx);
			const { email: newEmail, ...contact } = patch.contact ?? {};
			const rest: ProfilePatch = { ...patch, ...(patch.contact ? { contact } : {}) };
			const { row, mail } = await this.db.transaction(async (trx) => {
				const current = (await lockProfile(trx, ownerId)) as ProfileRow;
				if (!ifMatchHolds(ifMatch, current))
					throw new PreconditionFailed("The profile changed since you read it. Read it again and retry.");
				const normalized = normalizePatch(rest, current as unknown as Record<string, string | null>);
				if ("errors" in normalized) throw new ValidationError("Some fields are invalid.", normalized.errors);
				const updated = await applyChanges(trx, current, normalized.changes, author);
				// R13: an edit by someone else and its ledger line commit together.
				if (ownerId !== author.id) {
					const sections = Object.keys(patch) as ProfileSection[];
					await recordAccess(trx, { ownerId, actorId: author.id, action: "edit", sections, ip: author.ip });
				}
				if (!newEmail || newEmail.toLowerCase() === (current.email ?? "").toLowerCase()) return { row: updated, mail: false };
				const { id, token, expiresAt } = await requestEmailChange(trx, ownerId, newEmail, EMAIL_CHANGE_TTL_MS);
				await this.enqueue<MailRequestedMessage>(trx, Channels.mailRequested, {
					idempotencyKey: `email-change:${id}`,
					accountId: ownerId,
					to: newEmail,
					template: "email-change",
					data: {
						name: updated.given_name ?? "there",
						newEmail,
						confirmUrl: `${portalConfig(this.broker).publicUrl}/confirm-email?token=${encodeURIComponent(token)}`,
						expiresAt: expiresAt.toUTCString(),
					},
				});
				return { row: updated, mail: true };
			});
			await this.forgetOwnView(ownerId);
			if (mail) void this.relayOutbox().catch(() => undefined);
			return this.respond(ctx, row, visible, ownerId === author.id);
		},

		async respond(ctx: Ctx, row: ProfileRow, sections: readonly ProfileSection[], withPending: boolean): Promise<ProfileView> {
			ctx.meta.$responseHeaders = { ...(ctx.meta.$responseHeaders ?? {}), ETag: etagOf(row) };
			return toView(row, sections, withPending ? ((await pendingEmail(this.db, row.account_id))?.email ?? null) : undefined);
		},

		/**
		 * R9: the owner's own view, from the cache when it holds one. The entry is stored, then the
		 * profile is read again: a write that committed meanwhile has already dropped the cache
		 * (possibly before this entry landed), so a changed profile drops the entry here.
		 */
		async ownView(ctx: Ctx, accountId: string): Promise<ProfileView> {
			const cacher = this.ownerViews.cacher();
			const key = ownerViewKey(accountId);
			const hit = (await cacher?.get(key).catch(() => null)) as CachedOwnerView | null | undefined;
			if (isFresh(hit, Date.now())) {
				ctx.meta.$responseHeaders = { ...(ctx.meta.$responseHeaders ?? {}), ETag: etagOf(hit.view) };
				return hit.view;
			}
			const read = async () => {
				// A profile exists from the first time anyone asks for it; only that first read writes.
				let row = await findProfile(this.db, accountId);
				if (!row) {
					await ensureProfile(this.db, accountId);
					row = (await findProfile(this.db, accountId)) as ProfileRow;
				}
				return { row, pending: await pendingEmail(this.db, accountId) };
			};
			const { row, pending } = await read();
			ctx.meta.$responseHeaders = { ...(ctx.meta.$responseHeaders ?? {}), ETag: etagOf(row) };
			const view = toView(row, PROFILE_SECTIONS, pending?.email ?? null);
			const validUntil = pending ? pending.expiresAt.getTime() : null;
			const ttl = ttlFor(validUntil, Date.now());
			if (!cacher || ttl < 1) return view;
			try {
				await cacher.set(key, { view, validUntil } satisfies CachedOwnerView, ttl);
				const now = await read();
				if (now.row.version !== row.version || now.pending?.email !== pending?.email) await cacher.del(key);
			} catch (err) {
				this.logger.warn({ err: String(err) }, "could not cache the owner's profile view");
				await cacher.del(key).catch(() => undefined);
			}
			return view;
		},

		/** After a committed write: drop the owner's cached view on every node before answering. */
		async forgetOwnView(accountId: string): Promise<void> {
			await forgetCached(this.broker, { key: ownerViewKey(accountId) });
			await this.broker.broadcast(OWNER_VIEW_CHANGED_EVENT, { accountId });
		},
	},

	created() {
		this.ownerViews = new OutageSafeCache(this.broker, ALL_OWNER_VIEWS);
	},
});

const DESCRIPTION: PersonalDataDescription = {
	service: "profile",
	categories: [
		{
			category: "Personal information",
			fields: FIELDS.map((f) => `${f.section}.${f.name}`),
			purpose: "Your profile in the portal: you read and correct it at any time and decide who else sees it.",
			source: "The purchase (name, company, country, region, email), then you and the editors you chose.",
			recipients: ["the people and teams you share sections with"],
			retention: "Kept while your account exists.",
			tables: ["profile.profiles"],
		},
		{
			category: "Profile history",
			fields: ["changed fields with old and new values", "who changed them", "when", "IP address", "browser"],
			purpose: "Show you every change to your information and who made it.",
			source: "Recorded when the profile changes.",
			recipients: [],
			retention: "Kept while your account exists.",
			tables: ["profile.revisions"],
		},
		{
			category: "Email changes",
			fields: ["new email address", "requested, expiry and confirmation times"],
			purpose: "Confirm a new email address from that address before using it.",
			source: "You.",
			recipients: [],
			retention: "Kept while your account exists; the link's secret is stored only as a hash and never exported.",
			tables: ["profile.email_changes"],
		},
		{
			category: "Privacy ledger",
			fields: ["who read or edited your profile", "when", "which sections", "IP address"],
			purpose: "Show you every access to your information by someone else (R13).",
			source: "Recorded when someone you shared with reads or edits your profile.",
			recipients: [],
			retention: "Kept while your account exists.",
			tables: ["profile.access_ledger"],
		},
	],
};

export default ProfileService;
