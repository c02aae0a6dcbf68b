import {
	type Actor,
	type AuditRecordedMessage,
	Channels,
	type CheckParams,
	type CheckResult,
	type PersonalDataDescription,
	type PersonalDataExport,
	type PersonalDataParams,
	type PortalMeta,
	PROFILE_SECTIONS,
	SHARING_CACHE_CLEAN_EVENT,
} from "@portal/contracts";
import {
	Conflict,
	type connectedCacher,
	Database,
	type DatabaseThis,
	defineService,
	forgetCached,
	isUniqueViolation,
	type Knex,
	NotFound,
	OutageSafeCache,
	Outbox,
	type OutboxThis,
	Unauthorized,
	ValidationError,
} from "@portal/platform";
import { Cachers, type Context } from "moleculer";
import { migrations } from "../migrations";
import { decide } from "./check";
import { ALL_DECISIONS, type CachedDecision, decisionKey, isFresh, ownerDecisions, ttlFor } from "./decision-cache";
import { bumpOwnerVersion, decisionInputs, insertGrant, ownerGrants, ownerVersion, receivedGrants, revokeGrant } from "./grants.repo";
import { addMember, createTeam, membersOf, ownedTeam, ownedTeams, removeMember } from "./teams.repo";
import type { AccountSummary, GrantParams, GrantRow, GrantView, ReceivedView, TeamRow } from "./types";

type Ctx<P = unknown> = Context<P, PortalMeta>;

interface SharingMethods {
	/** The cacher for decisions: connected, and not suspected of holding entries a missed clean left behind. */
	decisionCache(): ReturnType<typeof connectedCacher>;
	actorOf(ctx: Ctx): Actor;
	resolveAccount(ctx: Ctx, who: { username?: string; email?: string }, field: string): Promise<AccountSummary>;
	usernames(ctx: Ctx, ids: string[]): Promise<Map<string, string>>;
	/** Runs an owner's sharing change, then drops that owner's cached decisions on every node (R12). */
	changeSharing<T>(ownerId: string, work: (trx: Knex.Transaction) => Promise<T>): Promise<T>;
	forgetDecisions(ownerId: string): Promise<void>;
	remember(params: CheckParams, decision: ReturnType<typeof decide>, version: number): Promise<void>;
	audit(trx: Knex.Transaction, ctx: Ctx, ownerId: string, action: string, detail: Record<string, unknown>): Promise<void>;
	teamView(ctx: Ctx, team: TeamRow): Promise<TeamView>;
}
type SharingThis = DatabaseThis & OutboxThis & SharingMethods & { decisions: OutageSafeCache };

interface TeamView {
	id: string;
	name: string;
	createdAt: string;
	members: { accountId: string; username: string | null; addedAt: string }[];
}

const sectionsParam = {
	type: "array",
	items: { type: "enum", values: [...PROFILE_SECTIONS] },
	unique: true,
	min: 1,
	optional: true,
} as const;
const whoParams = {
	username: { type: "string", optional: true, min: 1, max: 254, trim: true },
	email: { type: "email", optional: true, max: 254 },
} as const;

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

const SharingService = defineService<SharingThis>({
	name: "sharing",
	mixins: [Database({ schema: "sharing", migrations }), Outbox({ schema: "sharing" })],

	actions: {
		/**
		 * The one decision point (R8, R11, R12). Cached per (owner, actor, section, permission) in the
		 * broker's cacher (Redis in production). Caching is done here rather than with the declarative
		 * `cache` option because that option stores a result after the handler without waiting and
		 * with one fixed TTL: a revoke landing in between would be overwritten by a stale "allowed",
		 * and an entry could outlive a grant's expiry. See `remember`.
		 */
		check: {
			params: {
				ownerId: "uuid",
				actorId: "uuid",
				section: { type: "enum", values: [...PROFILE_SECTIONS] },
				permission: { type: "enum", values: ["view", "edit"] },
			},
			async handler(ctx: Ctx<CheckParams>): Promise<CheckResult> {
				const params = ctx.params;
				if (params.ownerId === params.actorId) return { allowed: true };
				// A lost Redis is skipped (its client would queue the command): the database answers.
				const cacher = this.decisionCache();
				if (cacher) {
					const entry = (await cacher.get(decisionKey(params)).catch(() => null)) as CachedDecision | null;
					if (isFresh(entry, Date.now())) return { allowed: entry.allowed };
				}
				const { version, grants } = await decisionInputs(this.db, params.ownerId, params.actorId);
				const decision = decide(params, grants, new Date());
				if (cacher) await this.remember(params, decision, version);
				return { allowed: decision.allowed };
			},
		},

		grant: {
			access: "signedIn",
			params: {
				grantee: {
					type: "object",
					strict: true,
					props: { ...whoParams, teamId: { type: "uuid", optional: true } },
				},
				role: { type: "enum", values: ["viewer", "editor"] },
				sections: sectionsParam,
				expiresAt: { type: "date", convert: true, optional: true },
			},
			async handler(ctx: Ctx<GrantParams>): Promise<GrantView> {
				const owner = this.actorOf(ctx);
				const { grantee, role, sections, expiresAt } = ctx.params;
				const named = Object.keys(grantee).filter((k) => grantee[k as keyof typeof grantee] !== undefined);
				if (named.length !== 1) {
					throw new ValidationError("Name exactly one grantee.", [{ field: "grantee", message: "Give one of username, email or teamId." }]);
				}
				if (expiresAt && expiresAt.getTime() <= Date.now()) {
					throw new ValidationError("The expiry must be in the future.", [{ field: "expiresAt", message: "Must be in the future." }]);
				}
				let granteeAccountId: string | undefined;
				let teamId: string | undefined;
				if ("teamId" in grantee) {
					if (!(await ownedTeam(this.db, owner.id, grantee.teamId))) {
						throw new ValidationError("No team of yours has this id.", [{ field: "grantee.teamId", message: "Unknown team." }]);
					}
					teamId = grantee.teamId;
				} else {
					const account = await this.resolveAccount(ctx, grantee, "grantee");
					if (account.id === owner.id) {
						throw new ValidationError("You already see your own information.", [{ field: "grantee", message: "That is you." }]);
					}
					granteeAccountId = account.id;
				}
				const row = await this.changeSharing(owner.id, async (trx) => {
					const created = await insertGrant(trx, {
						ownerId: owner.id,
						granteeAccountId,
						teamId,
						role,
						sections: sections ?? null,
						expiresAt: expiresAt ?? null,
					});
					await this.audit(trx, ctx, owner.id, "sharing.grant.created", {
						grantId: created.id,
						granteeAccountId: granteeAccountId ?? null,
						teamId: teamId ?? null,
						role,
						sections: sections ?? null,
						expiresAt: iso(expiresAt ?? null),
					});
					return created;
				});
				ctx.meta.$statusCode = 201;
				const [view] = await grantViews(this, ctx, [row]);
				return view as GrantView;
			},
		},

		revoke: {
			access: "signedIn",
			params: { id: "uuid" },
			async handler(ctx: Ctx<{ id: string }>): Promise<void> {
				const owner = this.actorOf(ctx);
				await this.changeSharing(owner.id, async (trx) => {
					const revoked = await revokeGrant(trx, owner.id, ctx.params.id);
					// Someone else's grant answers like a missing one: its existence is private.
					if (!revoked) throw new NotFound("No such grant.", "GRANT_NOT_FOUND");
					await this.audit(trx, ctx, owner.id, "sharing.grant.revoked", { grantId: revoked.id });
				});
				ctx.meta.$statusCode = 204;
			},
		},

		/** R13: who can see my information. */
		list: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<GrantView[]> {
				return grantViews(this, ctx, await ownerGrants(this.db, this.actorOf(ctx).id));
			},
		},

		/** R13: what others share with me, live grants only. */
		listReceived: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<ReceivedView[]> {
				const rows = await receivedGrants(this.db, this.actorOf(ctx).id);
				const names = await this.usernames(
					ctx,
					rows.map((r) => r.owner_id),
				);
				return rows.map((r) => ({
					id: r.id,
					owner: { accountId: r.owner_id, username: names.get(r.owner_id) ?? null },
					via: r.team_id ? { kind: "team" as const, teamId: r.team_id, name: r.team_name ?? "" } : { kind: "user" as const },
					role: r.role,
					sections: r.sections,
					expiresAt: iso(r.expires_at),
				}));
			},
		},

		createTeam: {
			access: "signedIn",
			params: { name: { type: "string", trim: true, min: 1, max: 100 } },
			async handler(ctx: Ctx<{ name: string }>): Promise<TeamView> {
				const owner = this.actorOf(ctx);
				try {
					const team = await this.db.transaction((trx) => createTeam(trx, owner.id, ctx.params.name));
					ctx.meta.$statusCode = 201;
					return this.teamView(ctx, team);
				} catch (err) {
					if (isUniqueViolation(err)) throw new Conflict("You already have a team with this name.", "TEAM_EXISTS");
					throw err;
				}
			},
		},

		listTeams: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<TeamView[]> {
				const teams = await ownedTeams(this.db, this.actorOf(ctx).id);
				return Promise.all(teams.map((team) => this.teamView(ctx, team)));
			},
		},

		addMember: {
			access: "signedIn",
			params: { id: "uuid", ...whoParams },
			async handler(ctx: Ctx<{ id: string; username?: string; email?: string }>): Promise<TeamView> {
				const owner = this.actorOf(ctx);
				const team = await ownedTeam(this.db, owner.id, ctx.params.id);
				if (!team) throw new NotFound("No such team.", "TEAM_NOT_FOUND");
				if (!ctx.params.username === !ctx.params.email) {
					throw new ValidationError("Name the member by user name or email.", [{ field: "username", message: "Give username or email." }]);
				}
				const member = await this.resolveAccount(ctx, ctx.params, ctx.params.username ? "username" : "email");
				const added = await this.changeSharing(owner.id, async (trx) => {
					const fresh = await addMember(trx, team.id, member.id);
					if (fresh) await this.audit(trx, ctx, owner.id, "sharing.member.added", { teamId: team.id, accountId: member.id });
					return fresh;
				});
				// 201 for a new membership, 200 when the account already was a member (adding again is harmless).
				ctx.meta.$statusCode = added ? 201 : 200;
				return this.teamView(ctx, team);
			},
		},

		removeMember: {
			access: "signedIn",
			params: { id: "uuid", accountId: "uuid" },
			async handler(ctx: Ctx<{ id: string; accountId: string }>): Promise<void> {
				const owner = this.actorOf(ctx);
				const team = await ownedTeam(this.db, owner.id, ctx.params.id);
				if (!team) throw new NotFound("No such team.", "TEAM_NOT_FOUND");
				await this.changeSharing(owner.id, async (trx) => {
					if (!(await removeMember(trx, team.id, ctx.params.accountId)))
						throw new NotFound("Not a member of this team.", "MEMBER_NOT_FOUND");
					await this.audit(trx, ctx, owner.id, "sharing.member.removed", { teamId: team.id, accountId: ctx.params.accountId });
				});
				ctx.meta.$statusCode = 204;
			},
		},

		/** The personal-data contract (ARCHITECTURE rule 7). */
		personalData: {
			params: {
				op: { type: "enum", values: ["describe", "export"] },
				accountId: { type: "uuid", optional: true },
			},
			async handler(ctx: Ctx<PersonalDataParams>): Promise<PersonalDataDescription | PersonalDataExport> {
				if (ctx.params.op === "describe") return DESCRIPTION;
				const id = ctx.params.accountId;
				const teams = await this.db("sharing.teams").where({ owner_id: id });
				return {
					service: "sharing",
					records: {
						grantsGiven: await this.db("sharing.grants").where({ owner_id: id }).orderBy("created_at"),
						grantsReceived: await this.db("sharing.grants").where({ grantee_account_id: id }).orderBy("created_at"),
						teamsOwned: teams,
						teamMembersOfOwnedTeams: await membersOf(
							this.db,
							teams.map((t: TeamRow) => t.id),
						),
						teamMemberships: await this.db("sharing.team_members").where({ account_id: id }).orderBy("added_at"),
					},
				};
			},
		},
	},

	events: {
		/** Another node changed an owner's sharing: drop this node's own (memory) copies. */
		[SHARING_CACHE_CLEAN_EVENT]: {
			params: { ownerId: "uuid" },
			async handler(ctx: Context<{ ownerId: string }>) {
				const cacher = this.broker.cacher;
				// A shared Redis was cleaned by the writer itself, before it answered.
				if (!cacher || cacher instanceof Cachers.Redis) return;
				await cacher.clean(ownerDecisions(ctx.params.ownerId));
			},
		},
	},

	methods: {
		decisionCache() {
			return this.decisions.cacher();
		},

		actorOf(ctx: Ctx): Actor {
			const actor = ctx.meta.actor;
			if (!actor || actor.kind === "system") throw new Unauthorized();
			return actor;
		},

		async resolveAccount(ctx: Ctx, who: { username?: string; email?: string }, field: string): Promise<AccountSummary> {
			const query = who.username ? { username: who.username } : { email: who.email };
			const [account] = await ctx.call<AccountSummary[], typeof query>("identity.lookup", query);
			if (!account || account.status === "disabled") {
				throw new ValidationError(
					"No account has this user name or email.",
					[{ field, message: "No matching account." }],
					"GRANTEE_NOT_FOUND",
				);
			}
			return account;
		},

		async usernames(ctx: Ctx, ids: string[]): Promise<Map<string, string>> {
			const unique = [...new Set(ids)];
			if (unique.length === 0) return new Map();
			const accounts = await ctx.call<AccountSummary[], { ids: string[] }>("identity.lookup", { ids: unique });
			return new Map(accounts.map((a) => [a.id, a.username]));
		},

		async changeSharing<T>(ownerId: string, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
			const result = await this.db.transaction(async (trx) => {
				const value = await work(trx);
				await bumpOwnerVersion(trx, ownerId);
				return value;
			});
			await this.forgetDecisions(ownerId);
			void this.relayOutbox().catch(() => undefined);
			return result;
		},

		async forgetDecisions(ownerId: string): Promise<void> {
			// Entries live at most DECISION_TTL_SECONDS; checks read the database while the cacher is away.
			await forgetCached(this.broker, { pattern: ownerDecisions(ownerId) });
			await this.broker.broadcast(SHARING_CACHE_CLEAN_EVENT, { ownerId });
		},

		/**
		 * Stores a decision, then checks that the owner's version did not move while it was computed.
		 * A write that committed in between has already cleaned the cache (possibly before this entry
		 * landed), so the entry is dropped here: a stale "allowed" never survives a revoke.
		 */
		async remember(params: CheckParams, decision: ReturnType<typeof decide>, version: number): Promise<void> {
			const cacher = this.decisionCache();
			const ttl = ttlFor(decision, Date.now());
			if (!cacher || ttl < 1) return;
			const key = decisionKey(params);
			const entry: CachedDecision = { allowed: decision.allowed, validUntil: decision.validUntil?.getTime() ?? null };
			try {
				await cacher.set(key, entry, ttl);
				if ((await ownerVersion(this.db, params.ownerId)) !== version) await cacher.del(key);
			} catch (err) {
				this.logger.warn({ err: String(err) }, "could not cache a sharing decision");
				await cacher.del(key).catch(() => undefined);
			}
		},

		async audit(trx: Knex.Transaction, ctx: Ctx, ownerId: string, action: string, detail: Record<string, unknown>): Promise<void> {
			const actor = this.actorOf(ctx);
			await this.enqueue<AuditRecordedMessage>(trx, Channels.auditRecorded, {
				accountId: ownerId,
				action,
				actor: { kind: actor.kind, id: actor.id },
				at: new Date().toISOString(),
				detail: { ...detail, ip: ctx.meta.request?.ip ?? null },
			});
		},

		async teamView(ctx: Ctx, team: TeamRow): Promise<TeamView> {
			const members = await membersOf(this.db, [team.id]);
			const names = await this.usernames(
				ctx,
				members.map((m) => m.account_id),
			);
			return {
				id: team.id,
				name: team.name,
				createdAt: iso(team.created_at) as string,
				members: members.map((m) => ({
					accountId: m.account_id,
					username: names.get(m.account_id) ?? null,
					addedAt: iso(m.added_at) as string,
				})),
			};
		},
	},

	/** R12 across a Redis outage: decisions a missed clean left behind are never served (see OutageSafeCache). */
	created() {
		this.decisions = new OutageSafeCache(this.broker, ALL_DECISIONS);
	},
});

async function grantViews(svc: SharingThis & { db: Knex }, ctx: Ctx, rows: GrantRow[]): Promise<GrantView[]> {
	const teamIds = [...new Set(rows.flatMap((r) => (r.team_id ? [r.team_id] : [])))];
	const teams = teamIds.length ? await svc.db<TeamRow>("sharing.teams").whereIn("id", teamIds) : [];
	const members = await membersOf(svc.db, teamIds);
	const names = await svc.usernames(ctx, [
		...rows.flatMap((r) => (r.grantee_account_id ? [r.grantee_account_id] : [])),
		...members.map((m) => m.account_id),
	]);
	const now = Date.now();
	return rows.map((r) => ({
		id: r.id,
		grantee: r.team_id
			? {
					teamId: r.team_id,
					name: teams.find((t) => t.id === r.team_id)?.name ?? null,
					members: members
						.filter((m) => m.team_id === r.team_id)
						.map((m) => ({ accountId: m.account_id, username: names.get(m.account_id) ?? null })),
				}
			: { accountId: r.grantee_account_id as string, username: names.get(r.grantee_account_id as string) ?? null },
		role: r.role,
		sections: r.sections,
		expiresAt: iso(r.expires_at),
		expired: r.expires_at !== null && new Date(r.expires_at).getTime() <= now,
		createdAt: iso(r.created_at) as string,
	}));
}

const DESCRIPTION: PersonalDataDescription = {
	service: "sharing",
	categories: [
		{
			category: "Sharing grants",
			fields: ["owner", "grantee account", "team", "role", "sections", "expiry", "revocation time"],
			purpose: "Let you share your information with the people and teams you choose, and enforce it.",
			source: "You (the owner) when you share; the grantee is named by you.",
			recipients: ["the grantees you name"],
			retention: "Kept while your account exists; revoked grants are kept as the record of who could see what.",
			tables: ["sharing.grants", "sharing.owner_versions"],
		},
		{
			category: "Teams",
			fields: ["team name", "members", "time added"],
			purpose: "Share with a group of people at once; a team grant covers its current members only.",
			source: "You (the team owner).",
			recipients: ["members of teams you share with"],
			retention: "Kept while the team exists.",
			tables: ["sharing.teams", "sharing.team_members"],
		},
	],
};

export default SharingService;
