import { randomUUID } from "node:crypto";
import {
	type Actor,
	type AuditRecordedMessage,
	Channels,
	type DeadLetter,
	type MailRequestedMessage,
	type PersonalDataDescription,
	type PersonalDataExport,
	type PortalMeta,
	ProfileChannels,
	type ProfileEmailConfirmedMessage,
	type PurchaseEvent,
	purchaseEventSchema,
	STAFF_ROLES,
	type StaffRole,
	type UsageRecordedMessage,
} from "@portal/contracts";
import {
	Conflict,
	connectedCacher,
	Database,
	type DatabaseThis,
	defineService,
	Forbidden,
	firstDelivery,
	GROUP_COMMIT_IN_FLIGHT,
	GroupCommit,
	isTransientDatabaseError,
	type Knex,
	MAX_GROUP,
	NotFound,
	OutageSafeCache,
	Outbox,
	type OutboxThis,
	portalConfig,
	sha256,
	Unauthorized,
	ValidationError,
} from "@portal/platform";
import type { ActionParams, Context, ServiceSchema } from "moleculer";
import { migrations } from "../migrations";
import { changeLoginEmail, describe, describeWith, findById, findByLogin, findByLoginWithProducts, normalizeEmail } from "./accounts.repo";
import { hashPassword, passwordProblems, verifyPassword } from "./passwords";
import { exportIdentityData, identityPersonalData } from "./personal-data";
import { type PurchaseOutcome, type PurchaseResult, parsePurchaseEvent, type ReceivedPurchase, recordPurchases } from "./purchases";
import { checkTotp, issueRecoveryCodes, looksLikeRecoveryCode, newTotpSecret, totpUri, useRecoveryCode } from "./second-factor";
import {
	findSession,
	liveSession,
	liveSessionsOf,
	markReauthenticated,
	revokeSessions,
	startSession,
	TOUCH_INTERVAL_MS,
	touchSession,
} from "./sessions.repo";
import { assertNotLocked, recordFailure, recordSuccess, throttleKeys } from "./throttle";
import { consumeToken, expireTokens, issueToken, peekToken } from "./tokens.repo";
import type { AccountRow, AccountSummary, ActivateParams, Me, SessionView, SignInParams } from "./types";
import { usernameCandidates } from "./usernames";

interface CachedSession {
	actor: Actor;
	expiresAt: number;
	lastUsedAt: number;
}

type AuditActor = { kind: string; id: string };

interface IdentityMethods {
	acceptPurchase(event: PurchaseEvent, source: "channel" | "webhook"): Promise<PurchaseOutcome>;
	adoptConfirmedEmail(message: ProfileEmailConfirmedMessage): Promise<void>;
	startSignedIn(ctx: Ctx, account: Me, method: string): Promise<{ account: Me; token: string }>;
	checkPassword(ctx: Ctx, account: AccountRow | undefined, password: string, totp: string | undefined): Promise<void>;
	secondFactorOk(account: AccountRow, code: string): Promise<boolean>;
	signInFailed(ctx: Ctx, accountId: string, reason: string): void;
	forgetSessions(sessions: readonly { token_hash: string }[]): Promise<void>;
	audit(trx: Knex.Transaction, accountId: string, action: string, actor: AuditActor, detail?: Record<string, unknown>): Promise<void>;
	mail(trx: Knex.Transaction, account: AccountRow, template: string, data: Record<string, string>): Promise<void>;
	sendActivation(account: AccountRow): Promise<void>;
	coolingDown(purpose: string, accountId: string): Promise<boolean>;
	signedInAccount(ctx: Ctx): Promise<AccountRow>;
	relay(): void;
}
type IdentityThis = DatabaseThis &
	OutboxThis &
	IdentityMethods & { sessionCache: OutageSafeCache; purchases: GroupCommit<ReceivedPurchase, PurchaseResult> };
type Ctx<P = unknown> = Context<P, PortalMeta>;

const INVALID_CREDENTIALS = "The user name or password is incorrect.";
/** How long the gateway's session lookup is cached; a revoke drops the entry at once anyway. */
const SESSION_CACHE_SECONDS = 30;
/** A second activation or reset mail for the same account within this time is silently skipped. */
const MAIL_COOLDOWN_SECONDS = 60;
const RESET_TTL_MS = 3_600_000;
/** Broadcast after a revoke so that replicas with a process-local (memory) cacher drop their copy too. */
const SESSIONS_REVOKED_EVENT = "identity.sessions.revoked";

const sessionKey = (tokenHash: string) => `identity-session:${tokenHash}`;
const ALL_SESSIONS = "identity-session:**";
const actorOf = (ctx: Ctx): AuditActor => ({ kind: ctx.meta.actor?.kind ?? "system", id: ctx.meta.actor?.id ?? "unknown" });
const clientIp = (ctx: Ctx) => ctx.meta.request?.ip || "unknown";
const ownInputs = (account: AccountRow) => [account.username, account.email.split("@")[0] ?? ""];
const password = { type: "string", min: 1, max: 1024 } as const;

/** Retries a passing database failure in-process before letting the channel redeliver (R3). */
async function withBackoff<T>(work: () => Promise<T>, attempts = 4, baseMs = 200): Promise<T> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await work();
		} catch (err) {
			if (attempt >= attempts || !isTransientDatabaseError(err)) throw err;
			await new Promise((resolve) => setTimeout(resolve, baseMs * 2 ** (attempt - 1)));
		}
	}
}

const IdentityService = defineService<IdentityThis>({
	name: "identity",
	mixins: [Database({ schema: "identity", migrations }), Outbox({ schema: "identity" })],

	actions: {
		/** The signed webhook's way in (the gateway checked the HMAC). Same handling as the channel. */
		receivePurchase: {
			access: "system",
			params: purchaseEventSchema as unknown as ActionParams,
			async handler(ctx: Ctx<PurchaseEvent>): Promise<{ accepted: true; outcome: PurchaseOutcome }> {
				const parsed = parsePurchaseEvent(ctx.params);
				if ("errors" in parsed) throw new ValidationError("The purchase event is invalid.", parsed.errors);
				const outcome = await this.acceptPurchase(parsed.event, "webhook");
				ctx.meta.$statusCode = 202;
				return { accepted: true, outcome };
			},
		},

		activate: {
			access: "public",
			params: { token: { type: "string", min: 1, max: 200 }, password: { type: "string", max: 1024 } },
			async handler(ctx: Ctx<ActivateParams>): Promise<{ account: Me; token: string }> {
				const { token, password } = ctx.params;
				const pending = await peekToken(this.db, token, "activation");
				const account = pending && (await findById(this.db, pending.account_id));
				if (account) {
					const problems = passwordProblems(password, ownInputs(account));
					if (problems.length > 0) throw new ValidationError("Choose a stronger password.", problems, "WEAK_PASSWORD");
				}
				const passwordHash = await hashPassword(password);
				const accountId = await this.db.transaction(async (trx) => {
					const used = await consumeToken(trx, token, "activation");
					await trx("identity.accounts")
						.where({ id: used.account_id })
						.update({ password_hash: passwordHash, status: "active", activated_at: new Date(), password_changed_at: new Date() });
					return used.account_id;
				});
				return this.startSignedIn(ctx, await describe(this.db, (await findById(this.db, accountId)) as AccountRow), "activation");
			},
		},

		/** R1: a new welcome link when the old one expired. 202 whatever the email, so nothing is revealed. */
		resendActivation: {
			access: "public",
			params: { email: { type: "email", max: 254 } },
			async handler(ctx: Ctx<{ email: string }>): Promise<void> {
				const account = await this.db<AccountRow>("identity.accounts")
					.where({ email_normalized: normalizeEmail(ctx.params.email) })
					.first();
				if (account?.status === "pending") await this.sendActivation(account);
				ctx.meta.$statusCode = 202;
			},
		},

		signIn: {
			access: "public",
			params: {
				login: { type: "string", min: 1, max: 254, trim: true },
				password,
				totp: { type: "string", optional: true, max: 20 },
			},
			async handler(ctx: Ctx<SignInParams>): Promise<{ account: Me; token: string }> {
				const found = await findByLoginWithProducts(this.db, ctx.params.login);
				await this.checkPassword(ctx, found?.account, ctx.params.password, ctx.params.totp);
				const { account, products } = found as NonNullable<typeof found>;
				return this.startSignedIn(ctx, describeWith(account, products), "password");
			},
		},

		signOut: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<void> {
				const actor = ctx.meta.actor;
				if (actor?.sessionId) {
					const revoked = await revokeSessions(this.db, actor.id, { only: actor.sessionId });
					await this.forgetSessions(revoked);
				}
				ctx.meta.$session = { ended: true };
				ctx.meta.$statusCode = 204;
			},
		},

		me: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<Me> {
				return describe(this.db, await this.signedInAccount(ctx));
			},
		},

		/** R5: needs the current password; ends every other session; a notice nobody can opt out of. */
		changePassword: {
			access: "signedIn",
			params: { currentPassword: password, newPassword: { type: "string", max: 1024 } },
			async handler(ctx: Ctx<{ currentPassword: string; newPassword: string }>): Promise<void> {
				const account = await this.signedInAccount(ctx);
				const problems = passwordProblems(ctx.params.newPassword, ownInputs(account), "newPassword");
				if (problems.length > 0) throw new ValidationError("Choose a stronger password.", problems, "WEAK_PASSWORD");
				await this.checkPassword(ctx, account, ctx.params.currentPassword, undefined).catch((err: unknown) => {
					throw err instanceof Unauthorized ? new Forbidden("The current password is incorrect.", "WRONG_PASSWORD") : err;
				});
				const passwordHash = await hashPassword(ctx.params.newPassword);
				const sessionId = ctx.meta.actor?.sessionId ?? "";
				const revoked = await this.db.transaction(async (trx) => {
					await trx("identity.accounts").where({ id: account.id }).update({ password_hash: passwordHash, password_changed_at: new Date() });
					const ended = await revokeSessions(trx, account.id, { except: sessionId });
					await this.mail(trx, account, "password-changed", { username: account.username, when: new Date().toUTCString() });
					await this.audit(trx, account.id, "identity.password.changed", actorOf(ctx), { otherSessionsEnded: ended.length });
					return ended;
				});
				await this.forgetSessions(revoked);
				this.relay();
				ctx.meta.$statusCode = 204;
			},
		},

		/** R5: a single-use, hashed, one-hour link by mail. 202 whatever the email. */
		requestPasswordReset: {
			access: "public",
			params: { email: { type: "email", max: 254 } },
			async handler(ctx: Ctx<{ email: string }>): Promise<void> {
				const account = await this.db<AccountRow>("identity.accounts")
					.where({ email_normalized: normalizeEmail(ctx.params.email) })
					.first();
				ctx.meta.$statusCode = 202;
				if (!account || account.status === "disabled") return;
				// Someone who never chose a password gets a fresh welcome link instead: it does the same job.
				if (account.status === "pending") return this.sendActivation(account);
				if (await this.coolingDown("reset", account.id)) return;
				const config = portalConfig(this.broker);
				await this.db.transaction(async (trx) => {
					await expireTokens(trx, account.id, "password_reset");
					const { token, expiresAt } = await issueToken(trx, account.id, "password_reset", RESET_TTL_MS);
					await this.mail(trx, account, "password-reset", {
						username: account.username,
						resetUrl: `${config.publicUrl}/reset-password?token=${encodeURIComponent(token)}`,
						expiresAt: expiresAt.toUTCString(),
					});
				});
				this.relay();
			},
		},

		/** R5: sets the new password, ends every session (the old password may be known to someone else). */
		confirmPasswordReset: {
			access: "public",
			params: { token: { type: "string", min: 1, max: 200 }, password: { type: "string", max: 1024 } },
			async handler(ctx: Ctx<{ token: string; password: string }>): Promise<void> {
				const pending = await peekToken(this.db, ctx.params.token, "password_reset");
				const account = pending && (await findById(this.db, pending.account_id));
				if (account) {
					const problems = passwordProblems(ctx.params.password, ownInputs(account));
					if (problems.length > 0) throw new ValidationError("Choose a stronger password.", problems, "WEAK_PASSWORD");
				}
				const { accountId, revoked } = await this.db.transaction(async (trx) => {
					const used = await consumeToken(trx, ctx.params.token, "password_reset");
					const owner = (await findById(trx, used.account_id)) as AccountRow;
					const passwordHash = await hashPassword(ctx.params.password);
					await trx("identity.accounts").where({ id: owner.id }).update({ password_hash: passwordHash, password_changed_at: new Date() });
					const ended = await revokeSessions(trx, owner.id, "all");
					await this.mail(trx, owner, "password-changed", { username: owner.username, when: new Date().toUTCString() });
					await this.audit(trx, owner.id, "identity.password.reset", { kind: "account", id: owner.id }, { sessionsEnded: ended.length });
					return { accountId: owner.id, revoked: ended };
				});
				await this.forgetSessions(revoked);
				// The owner proved control of the mailbox: earlier failed guesses no longer lock them out.
				await recordSuccess(this.broker.cacher as never, throttleKeys(accountId, clientIp(ctx))).catch(() => undefined);
				this.relay();
				ctx.meta.$statusCode = 204;
			},
		},

		/** Step-up: the current session proves its owner again (compliance asks before a CCPA release). */
		reauthenticate: {
			access: "signedIn",
			params: { password, totp: { type: "string", optional: true, max: 20 } },
			async handler(ctx: Ctx<{ password: string; totp?: string }>): Promise<void> {
				const account = await this.signedInAccount(ctx);
				await this.checkPassword(ctx, account, ctx.params.password, ctx.params.totp);
				await markReauthenticated(this.db, ctx.meta.actor?.sessionId ?? "");
				ctx.meta.$statusCode = 204;
			},
		},

		/** Internal: did this (still live) session re-authenticate within the last `withinSeconds`? */
		recentlyReauthenticated: {
			params: { sessionId: "uuid", withinSeconds: { type: "number", integer: true, min: 1, max: 86_400 } },
			async handler(ctx: Ctx<{ sessionId: string; withinSeconds: number }>): Promise<{ ok: boolean }> {
				const session = await findSession(this.db, ctx.params.sessionId);
				const since = Date.now() - ctx.params.withinSeconds * 1000;
				const ok =
					!!session?.reauthenticated_at &&
					!session.revoked_at &&
					new Date(session.expires_at).getTime() > Date.now() &&
					new Date(session.reauthenticated_at).getTime() >= since;
				return { ok };
			},
		},

		/** R6: the person's live sessions, with device, address and last use. */
		listSessions: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<SessionView[]> {
				const rows = await liveSessionsOf(this.db, ctx.meta.actor?.id ?? "", portalConfig(this.broker).session);
				return rows.map((s) => ({
					id: s.id,
					createdAt: new Date(s.created_at).toISOString(),
					lastUsedAt: new Date(s.last_used_at).toISOString(),
					expiresAt: new Date(s.expires_at).toISOString(),
					userAgent: s.user_agent,
					ip: s.ip,
					current: s.id === ctx.meta.actor?.sessionId,
				}));
			},
		},

		revokeSession: {
			access: "signedIn",
			params: { id: "uuid" },
			async handler(ctx: Ctx<{ id: string }>): Promise<void> {
				const accountId = ctx.meta.actor?.id ?? "";
				const revoked = await this.db.transaction(async (trx) => {
					const ended = await revokeSessions(trx, accountId, { only: ctx.params.id });
					if (ended.length === 0) throw new NotFound("No such session.");
					await this.audit(trx, accountId, "identity.session.revoked", actorOf(ctx), { sessionId: ctx.params.id });
					return ended;
				});
				await this.forgetSessions(revoked);
				this.relay();
				if (ctx.params.id === ctx.meta.actor?.sessionId) ctx.meta.$session = { ended: true };
				ctx.meta.$statusCode = 204;
			},
		},

		revokeOtherSessions: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<void> {
				const accountId = ctx.meta.actor?.id ?? "";
				const revoked = await this.db.transaction(async (trx) => {
					const ended = await revokeSessions(trx, accountId, { except: ctx.meta.actor?.sessionId ?? "" });
					if (ended.length > 0)
						await this.audit(trx, accountId, "identity.session.revoked", actorOf(ctx), { sessionIds: ended.map((r) => r.id) });
					return ended;
				});
				await this.forgetSessions(revoked);
				this.relay();
				ctx.meta.$statusCode = 204;
			},
		},

		/** R6: TOTP enrolment, step 1: a secret for the authenticator app (not active until confirmed). */
		startTotp: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<{ secret: string; otpauthUri: string }> {
				const account = await this.signedInAccount(ctx);
				if (account.totp_secret) throw new Conflict("The second factor is already on. Turn it off first to enrol again.", "TOTP_ENABLED");
				const secret = newTotpSecret();
				await this.db("identity.accounts").where({ id: account.id }).update({ totp_pending_secret: secret });
				return { secret, otpauthUri: totpUri(secret, account.username) };
			},
		},

		/** Step 2: the first code proves the app has the secret; then ten recovery codes, shown once. */
		confirmTotp: {
			access: "signedIn",
			params: { code: { type: "string", min: 1, max: 20, trim: true } },
			async handler(ctx: Ctx<{ code: string }>): Promise<{ recoveryCodes: string[] }> {
				const account = await this.signedInAccount(ctx);
				if (account.totp_secret) throw new Conflict("The second factor is already on.", "TOTP_ENABLED");
				if (!account.totp_pending_secret) throw new Conflict("Start the enrolment first (POST /api/v1/auth/totp).", "TOTP_NOT_STARTED");
				const step = checkTotp(account.totp_pending_secret, ctx.params.code, null);
				if (step === null)
					throw new ValidationError("The code is incorrect.", [{ field: "code", message: "The code does not match." }], "INVALID_TOTP");
				const recoveryCodes = await this.db.transaction(async (trx) => {
					const updated = await trx("identity.accounts")
						.where({ id: account.id, totp_pending_secret: account.totp_pending_secret })
						.whereNull("totp_secret")
						.update({
							totp_secret: account.totp_pending_secret,
							totp_pending_secret: null,
							totp_enabled_at: new Date(),
							totp_last_step: step,
						});
					if (Number(updated) !== 1) throw new Conflict("The enrolment changed meanwhile. Please start again.", "TOTP_CHANGED");
					const codes = await issueRecoveryCodes(trx, account.id);
					await this.mail(trx, account, "security-alert", {
						username: account.username,
						event: "Two-step sign-in was turned on",
						when: new Date().toUTCString(),
					});
					await this.audit(trx, account.id, "identity.totp.enabled", actorOf(ctx));
					return codes;
				});
				this.relay();
				return { recoveryCodes };
			},
		},

		/** Turning the second factor off needs the password (the session itself already passed the factor). */
		disableTotp: {
			access: "signedIn",
			params: { password },
			async handler(ctx: Ctx<{ password: string }>): Promise<void> {
				const account = await this.signedInAccount(ctx);
				await this.checkPassword(ctx, { ...account, totp_secret: null }, ctx.params.password, undefined).catch((err: unknown) => {
					throw err instanceof Unauthorized ? new Forbidden("The password is incorrect.", "WRONG_PASSWORD") : err;
				});
				ctx.meta.$statusCode = 204;
				if (!account.totp_secret && !account.totp_pending_secret) return;
				await this.db.transaction(async (trx) => {
					await trx("identity.accounts")
						.where({ id: account.id })
						.update({ totp_secret: null, totp_pending_secret: null, totp_enabled_at: null, totp_last_step: null });
					await trx("identity.recovery_codes").where({ account_id: account.id }).delete();
					if (account.totp_secret) {
						await this.mail(trx, account, "security-alert", {
							username: account.username,
							event: "Two-step sign-in was turned off",
							when: new Date().toUTCString(),
						});
						await this.audit(trx, account.id, "identity.totp.disabled", actorOf(ctx));
					}
				});
				this.relay();
			},
		},

		/** R7: support staff find a customer's account (audited on that account's trail). */
		findAccount: {
			access: { roles: ["support", "admin"] },
			params: { q: { type: "string", min: 1, max: 254, trim: true } },
			async handler(ctx: Ctx<{ q: string }>) {
				const account = await findByLogin(this.db, ctx.params.q);
				if (!account) throw new NotFound("No account matches.");
				const sessions = await liveSessionsOf(this.db, account.id, portalConfig(this.broker).session);
				await this.db.transaction((trx) => this.audit(trx, account.id, "identity.account.viewed", actorOf(ctx), { query: ctx.params.q }));
				this.relay();
				const me = await describe(this.db, account);
				return { ...me, kind: account.kind, createdAt: new Date(account.created_at).toISOString(), liveSessions: sessions.length };
			},
		},

		/** Internal (R7): staff accounts come only from the `npm run staff` command, never from the API. */
		createStaff: {
			params: { email: { type: "email", max: 254 }, role: { type: "enum", values: [...STAFF_ROLES] } },
			async handler(
				ctx: Ctx<{ email: string; role: StaffRole }>,
			): Promise<{ accountId: string; username: string; setPasswordUrl: string; expiresAt: string }> {
				const config = portalConfig(this.broker);
				const emailNormalized = normalizeEmail(ctx.params.email);
				const result = await this.db.transaction(async (trx) => {
					if (await trx("identity.accounts").where({ email_normalized: emailNormalized }).first()) {
						throw new Conflict("An account with this email already exists.", "EMAIL_TAKEN");
					}
					for (const username of usernameCandidates(emailNormalized)) {
						const [created] = await trx<AccountRow>("identity.accounts")
							.insert({
								id: randomUUID(),
								username,
								email: ctx.params.email.trim(),
								email_normalized: emailNormalized,
								kind: "staff",
								roles: [ctx.params.role],
								status: "pending",
							})
							.onConflict("username")
							.ignore()
							.returning("*");
						if (!created) continue;
						const { token, expiresAt } = await issueToken(trx, created.id, "activation", config.activationTtlHours * 3_600_000);
						await this.audit(trx, created.id, "identity.staff.created", { kind: "system", id: "staff-cli" }, { role: ctx.params.role });
						return {
							accountId: created.id,
							username,
							setPasswordUrl: `${config.publicUrl}/activate?token=${encodeURIComponent(token)}`,
							expiresAt: expiresAt.toISOString(),
						};
					}
					throw new Error("unreachable: username candidates are infinite");
				});
				this.relay();
				return result;
			},
		},

		/** The personal-data contract: what identity keeps and, per account, a copy (never secrets). */
		personalData: {
			params: { op: { type: "enum", values: ["describe", "export"] }, accountId: { type: "uuid", optional: true } },
			async handler(ctx: Ctx<{ op: "describe" | "export"; accountId?: string }>): Promise<PersonalDataDescription | PersonalDataExport> {
				if (ctx.params.op === "describe") return identityPersonalData;
				if (!ctx.params.accountId)
					throw new ValidationError("accountId is required for export.", [{ field: "accountId", message: "Required." }]);
				return exportIdentityData(this.db, ctx.params.accountId);
			},
		},

		/**
		 * Finds accounts for other services (sharing resolves grantees by user name or email; compliance
		 * lists accounts): public facts only, never credentials.
		 */
		lookup: {
			params: {
				username: { type: "string", optional: true, max: 254, trim: true },
				email: { type: "string", optional: true, max: 254, trim: true },
				ids: { type: "array", optional: true, max: 1000, items: "uuid" },
			},
			async handler(ctx: Ctx<{ username?: string; email?: string; ids?: string[] }>): Promise<AccountSummary[]> {
				const { username, email, ids } = ctx.params;
				if (!username && !email && !ids) return [];
				const query = this.db<AccountRow>("identity.accounts").select("id", "username", "email", "kind", "status");
				if (username) query.where("username", username.toLowerCase());
				if (email) query.where("email_normalized", email.toLowerCase());
				if (ids) query.whereIn("id", ids);
				return query;
			},
		},

		/**
		 * The gateway's question for every request with a session cookie or bearer token. Answers are
		 * cached by token hash for a few seconds; every revoke deletes the entry, so a revoked session
		 * fails on the very next request on every replica (R6, R12).
		 */
		resolveSession: {
			params: { token: { type: "string", min: 1, max: 200 } },
			async handler(ctx: Ctx<{ token: string }>): Promise<Actor | null> {
				const policy = portalConfig(this.broker).session;
				// A disconnected Redis would hold the request until it returns, and one just back may hold
				// sessions revoked while it was away: ask the database meanwhile.
				const cacher = this.sessionCache.cacher();
				const tokenHash = sha256(ctx.params.token);
				const key = sessionKey(tokenHash);
				const now = Date.now();
				// The cache only saves work: when it cannot answer, the database does.
				const cached = (await cacher?.get(key).catch(() => null)) as CachedSession | null | undefined;
				if (cached) {
					if (now >= cached.expiresAt || now >= cached.lastUsedAt + policy.idleMinutes * 60_000) return null;
					if (now - cached.lastUsedAt <= TOUCH_INTERVAL_MS) return cached.actor;
					if (!(await touchSession(this.db, cached.actor.sessionId ?? "", now))) {
						await cacher?.del(key).catch(() => undefined);
						return null;
					}
					await cacher?.set(key, { ...cached, lastUsedAt: now }, SESSION_CACHE_SECONDS).catch(() => undefined);
					return cached.actor;
				}
				const session = await liveSession(this.db, ctx.params.token, policy);
				if (!session) return null;
				const account = await findById(this.db, session.account_id);
				if (account?.status !== "active") return null;
				const actor: Actor =
					account.kind === "staff"
						? { kind: "staff", id: account.id, roles: account.roles, sessionId: session.id }
						: { kind: "account", id: account.id, roles: [], sessionId: session.id };
				const entry: CachedSession = {
					actor,
					expiresAt: new Date(session.expires_at).getTime(),
					lastUsedAt: new Date(session.last_used_at).getTime(),
				};
				await cacher
					?.set(key, entry, SESSION_CACHE_SECONDS)
					.catch((err: unknown) => this.logger.warn({ err: String(err) }, "session cache write failed"));
				return actor;
			},
		},
	},

	channels: {
		[Channels.purchaseCompleted]: {
			group: "identity",
			context: true,
			maxInFlight: GROUP_COMMIT_IN_FLIGHT,
			maxRetries: 5,
			deadLettering: { enabled: true, queueName: Channels.purchaseDead },
			async handler(ctx: Ctx<unknown>) {
				const parsed = parsePurchaseEvent(ctx.params);
				if ("errors" in parsed) {
					// A malformed event will never succeed: park it with its reason and move on (R3).
					const letter: DeadLetter = {
						reason: "invalid purchase event",
						errors: parsed.errors,
						receivedAt: new Date().toISOString(),
						original: ctx.params,
					};
					this.logger.warn({ errors: parsed.errors }, "purchase event dead-lettered");
					await this.broker.sendToChannel(Channels.purchaseDead, letter);
					return;
				}
				await withBackoff(() => this.acceptPurchase(parsed.event, "channel"));
			},
		},
		/** R10: the owner confirmed a new address in profile; it becomes the sign-in email. */
		[ProfileChannels.emailConfirmed]: {
			group: "identity",
			context: true,
			maxRetries: 5,
			async handler(ctx: Ctx<ProfileEmailConfirmedMessage>) {
				await withBackoff(() => this.adoptConfirmedEmail(ctx.params));
			},
		},
	},

	events: {
		/** Another replica revoked sessions: drop them from this node's cache (a no-op with a shared Redis). */
		[SESSIONS_REVOKED_EVENT]: {
			context: true,
			handler(ctx: Context<{ keys: string[] }>) {
				// For nodes with a memory cacher (it deletes at once). With Redis the sender already
				// deleted; not waiting keeps a dying Redis from holding the revoke's answer.
				void this.broker.cacher?.del(ctx.params.keys).catch(() => undefined);
			},
		},
	},

	methods: {
		async acceptPurchase(event: PurchaseEvent, source: "channel" | "webhook"): Promise<PurchaseOutcome> {
			const config = portalConfig(this.broker);
			const ageDays = (Date.now() - new Date(event.occurredAt).getTime()) / 86_400_000;
			// A late event is still a purchase the customer made: honour it, but make the delay visible.
			if (ageDays > config.purchaseMaxAgeDays)
				this.logger.warn({ eventId: event.eventId, ageDays: Math.floor(ageDays) }, "late purchase event honoured");
			const { outcome, accountId } = await this.purchases.submit({ event, source });
			this.logger.info({ eventId: event.eventId, accountId, outcome, source }, "purchase event handled");
			if (outcome === "account-created" || outcome === "product-added") this.relay();
			return outcome;
		},

		/**
		 * R10: changes the sign-in email once per message, audits it, and tells the OLD address, so
		 * that an owner whose session was hijacked learns of it where the attacker cannot delete it.
		 * An address another account signs in with is not taken over: the change is audited as refused.
		 */
		async adoptConfirmedEmail(m: ProfileEmailConfirmedMessage): Promise<void> {
			const actor = { kind: "account", id: m.accountId };
			const outcome = await this.db.transaction(async (trx) => {
				if (!(await firstDelivery(trx, "identity", m.messageId))) return "duplicate";
				const change = await changeLoginEmail(trx, m.accountId, m.email);
				if (change.changed) {
					const { previous } = change;
					await this.mail(trx, previous, "security-alert", {
						username: previous.username,
						event: `The email address you sign in with was changed to ${m.email.trim()}`,
						when: new Date(m.confirmedAt).toUTCString(),
					});
					await this.audit(trx, m.accountId, "identity.email.changed", actor, {
						previousEmail: previous.email,
						email: m.email.trim(),
						confirmedAt: m.confirmedAt,
					});
					return "changed";
				}
				if (change.reason === "in-use") {
					await this.audit(trx, m.accountId, "identity.email.change-refused", actor, {
						email: m.email.trim(),
						reason: "another account signs in with this address",
					});
				}
				return change.reason;
			});
			if (outcome === "in-use")
				this.logger.warn(
					{ accountId: m.accountId, messageId: m.messageId },
					"confirmed email not adopted: another account signs in with it",
				);
			else this.logger.info({ accountId: m.accountId, messageId: m.messageId, outcome }, "confirmed email handled");
			if (outcome === "changed" || outcome === "in-use") this.relay();
		},

		/**
		 * A new session and its usage record (R14), written by one statement. Nobody waits for the
		 * record: it is relayed with the others of the moment (`relayOutboxSoon`).
		 */
		async startSignedIn(ctx: Ctx, account: Me, method: string): Promise<{ account: Me; token: string }> {
			const config = portalConfig(this.broker);
			const { token } = await startSession(this.db, account.id, config.session, ctx.meta.request, (sessionId) =>
				this.outboxInsert<UsageRecordedMessage>(this.db, Channels.usageRecorded, {
					accountId: account.id,
					kind: "sign-in",
					at: new Date().toISOString(),
					detail: { ip: clientIp(ctx), userAgent: ctx.meta.request?.userAgent ?? "", method, sessionId },
				}),
			);
			this.relayOutboxSoon();
			ctx.meta.$session = { token, maxAgeSeconds: config.session.absoluteHours * 3600 };
			return { account, token };
		},

		/**
		 * R4: the one password check (sign-in, password change, step-up, turning TOTP off). Throttled per
		 * account and per address; an unknown account is verified against a dummy hash, so it costs the
		 * same argon2 work and gets the same answer as a wrong password.
		 */
		async checkPassword(ctx: Ctx, account: AccountRow | undefined, given: string, totp: string | undefined): Promise<void> {
			const cacher = this.broker.cacher as NonNullable<typeof this.broker.cacher>;
			const loginKey = account?.id ?? String((ctx.params as { login?: string }).login ?? "").toLowerCase();
			const keys = throttleKeys(loginKey, clientIp(ctx));
			const checked = await assertNotLocked(cacher, keys);
			const passwordOk = await verifyPassword(account?.password_hash, given);
			if (!account || !passwordOk || account.status !== "active") {
				await recordFailure(cacher, keys);
				if (account) this.signInFailed(ctx, account.id, "password");
				throw new Unauthorized(INVALID_CREDENTIALS, "INVALID_CREDENTIALS");
			}
			if (account.totp_secret) {
				if (!totp) throw new Unauthorized("Enter the code from your authenticator app or a recovery code.", "TOTP_REQUIRED");
				if (!(await this.secondFactorOk(account, totp))) {
					await recordFailure(cacher, keys);
					this.signInFailed(ctx, account.id, "second-factor");
					throw new Unauthorized("The code is incorrect.", "INVALID_TOTP");
				}
			}
			if (checked.accountFailures) await recordSuccess(cacher, keys);
		},

		/** A current TOTP code (each step once) or an unused recovery code, which is then spent. */
		async secondFactorOk(account: AccountRow, code: string): Promise<boolean> {
			const secret = account.totp_secret as string;
			if (looksLikeRecoveryCode(code)) {
				if (!(await useRecoveryCode(this.db, account.id, code))) return false;
				await this.db.transaction(async (trx) => {
					await this.mail(trx, account, "security-alert", {
						username: account.username,
						event: "A recovery code was used to sign in",
						when: new Date().toUTCString(),
					});
					await this.audit(trx, account.id, "identity.recovery-code.used", { kind: "account", id: account.id });
				});
				this.relay();
				return true;
			}
			const lastStep = account.totp_last_step === null ? null : Number(account.totp_last_step);
			const step = checkTotp(secret, code, lastStep);
			if (step === null) return false;
			// Concurrent sign-ins with the same code: only the first moves the step forward.
			const moved = await this.db("identity.accounts")
				.where({ id: account.id })
				.andWhere((q) => q.whereNull("totp_last_step").orWhere("totp_last_step", "<", step))
				.update({ totp_last_step: step });
			return Number(moved) === 1;
		},

		/** Failures go straight to the channel: an outbox row per guess would let guessing fill the database. */
		signInFailed(ctx: Ctx, accountId: string, reason: string): void {
			const message: UsageRecordedMessage = {
				messageId: randomUUID(),
				occurredAt: new Date().toISOString(),
				accountId,
				kind: "sign-in-failed",
				at: new Date().toISOString(),
				detail: { ip: clientIp(ctx), userAgent: ctx.meta.request?.userAgent ?? "", reason },
			};
			this.broker
				.sendToChannel(Channels.usageRecorded, message)
				.catch((err: unknown) => this.logger.warn({ err: String(err) }, "failed sign-in not recorded"));
		},

		/** Drops revoked sessions from the shared cache, and asks every node to drop its local copy. */
		async forgetSessions(sessions: readonly { token_hash: string }[]): Promise<void> {
			if (sessions.length === 0) return;
			const keys = sessions.map((session) => sessionKey(session.token_hash));
			const drop = this.broker.cacher
				?.del(keys)
				.catch((err: unknown) => this.logger.error({ err: String(err) }, "session cache delete failed"));
			// While Redis is away the delete waits in the client's queue for its return; the revoke
			// itself is committed, so answer instead of waiting for the cache. A Redis that died a moment
			// ago may not be noticed yet: wait at most a second (a live Redis answers in well under one),
			// after which the outage guard (OutageSafeCache) keeps the cache out of use until it is clean.
			if (connectedCacher(this.broker)) await Promise.race([drop, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
			await this.broker.broadcast(SESSIONS_REVOKED_EVENT, { keys });
		},

		async audit(
			trx: Knex.Transaction,
			accountId: string,
			action: string,
			actor: AuditActor,
			detail: Record<string, unknown> = {},
		): Promise<void> {
			await this.enqueue<AuditRecordedMessage>(trx, Channels.auditRecorded, {
				accountId,
				action,
				actor,
				at: new Date().toISOString(),
				detail,
			});
		},

		/** A service mail (R19: never opted out of), through the outbox with the change it reports. */
		async mail(trx: Knex.Transaction, account: AccountRow, template: string, data: Record<string, string>): Promise<void> {
			await this.enqueue<MailRequestedMessage>(trx, Channels.mailRequested, {
				idempotencyKey: `${template}:${randomUUID()}`,
				accountId: account.id,
				to: account.email,
				template,
				data: { ...data, portalUrl: portalConfig(this.broker).publicUrl },
			});
		},

		/** A fresh welcome link; older unused ones stop working. */
		async sendActivation(account: AccountRow): Promise<void> {
			if (await this.coolingDown("activation", account.id)) return;
			const config = portalConfig(this.broker);
			await this.db.transaction(async (trx) => {
				await expireTokens(trx, account.id, "activation");
				const { token, expiresAt } = await issueToken(trx, account.id, "activation", config.activationTtlHours * 3_600_000);
				await this.mail(trx, account, "activation-resend", {
					username: account.username,
					activationUrl: `${config.publicUrl}/activate?token=${encodeURIComponent(token)}`,
					expiresAt: expiresAt.toUTCString(),
				});
			});
			this.relay();
		},

		/** True when a mail of this kind went to the account moments ago (stops mail bombing through 202 routes). */
		async coolingDown(purpose: string, accountId: string): Promise<boolean> {
			const key = `identity-mail-cooldown:${purpose}:${accountId}`;
			const cacher = connectedCacher(this.broker);
			if (!cacher) return false;
			if (await cacher.get(key).catch(() => null)) return true;
			await cacher.set(key, { at: Date.now() }, MAIL_COOLDOWN_SECONDS).catch(() => undefined);
			return false;
		},

		async signedInAccount(ctx: Ctx): Promise<AccountRow> {
			const account = await findById(this.db, ctx.meta.actor?.id ?? "");
			if (!account) throw new Unauthorized();
			return account;
		},

		relay(): void {
			void this.relayOutbox().catch(() => undefined);
		},
	},

	created() {
		// R6/R12 across a Redis outage: sessions revoked while Redis was away are never served from it.
		this.sessionCache = new OutageSafeCache(this.broker, ALL_SESSIONS);
		// Purchases arriving together (a burst, redeliveries after an outage) are recorded together; a
		// second group is recorded while the first waits on the database. Groups lock accounts in id
		// order and create them in email order, so two groups may wait for each other but not deadlock.
		this.purchases = new GroupCommit(
			(received) => recordPurchases(this.db, received, portalConfig(this.broker).activationTtlHours * 3_600_000),
			MAX_GROUP,
			2,
		);
	},

	/**
	 * The purchase stream is a contract (API.md): OMTI_PURCHASES over omti.purchases.>, namespaced so
	 * that test runs sharing one NATS server never see each other's streams. Set before the channels
	 * middleware reads the schema.
	 */
	merged(schema: ServiceSchema) {
		const ns = this.broker.namespace;
		const channel = schema.channels?.[Channels.purchaseCompleted];
		if (channel) {
			channel.nats = {
				streamConfig: {
					name: ns ? `${ns.toUpperCase().replace(/-/g, "_")}_OMTI_PURCHASES` : "OMTI_PURCHASES",
					subjects: [ns ? `${ns}.omti.purchases.>` : "omti.purchases.>"],
				},
			};
		}
	},
});

export default IdentityService;
