import { Channels, type DeadLetter, type PortalMeta, type PurchaseEvent, purchaseEventSchema } from "@portal/contracts";
import {
	Database,
	type DatabaseThis,
	defineService,
	isTransientDatabaseError,
	Outbox,
	type OutboxThis,
	portalConfig,
	Unauthorized,
	ValidationError,
} from "@portal/platform";
import type { ActionParams, Context, ServiceSchema } from "moleculer";
import { migrations } from "../migrations";
import { describe, findById, findByLogin } from "./accounts.repo";
import { hashPassword, passwordProblems, verifyPassword } from "./passwords";
import { type PurchaseOutcome, parsePurchaseEvent, recordPurchase } from "./purchases";
import { liveSession, revokeSession, startSession } from "./sessions.repo";
import { consumeToken, peekToken } from "./tokens.repo";
import type { AccountRow, AccountSummary, ActivateParams, Me, SignInParams } from "./types";

interface IdentityMethods {
	acceptPurchase(event: PurchaseEvent, source: "channel" | "webhook"): Promise<PurchaseOutcome>;
	startSignedIn(ctx: Ctx, accountId: string): Promise<{ account: Me; token: string }>;
}
type IdentityThis = DatabaseThis & OutboxThis & IdentityMethods;
type Ctx<P = unknown> = Context<P, PortalMeta>;

const INVALID_CREDENTIALS = "The user name or password is incorrect.";

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
					const problems = passwordProblems(password, [account.username, account.email.split("@")[0] ?? ""]);
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
				return this.startSignedIn(ctx, accountId);
			},
		},

		signIn: {
			access: "public",
			params: {
				login: { type: "string", min: 1, max: 254, trim: true },
				password: { type: "string", min: 1, max: 1024 },
				totp: { type: "string", optional: true, max: 20 },
			},
			async handler(ctx: Ctx<SignInParams>): Promise<{ account: Me; token: string }> {
				const account = await findByLogin(this.db, ctx.params.login);
				// Unknown accounts are verified against a dummy hash: same answer, same work (R4).
				const passwordOk = await verifyPassword(account?.password_hash, ctx.params.password);
				if (!account || !passwordOk || account.status !== "active") {
					throw new Unauthorized(INVALID_CREDENTIALS, "INVALID_CREDENTIALS");
				}
				return this.startSignedIn(ctx, account.id);
			},
		},

		signOut: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<void> {
				const sessionId = ctx.meta.actor?.sessionId;
				if (sessionId) await revokeSession(this.db, sessionId);
				ctx.meta.$session = { ended: true };
				ctx.meta.$statusCode = 204;
			},
		},

		me: {
			access: "signedIn",
			async handler(ctx: Ctx): Promise<Me> {
				const account = await findById(this.db, ctx.meta.actor?.id ?? "");
				if (!account) throw new Unauthorized();
				return describe(this.db, account);
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

		/** The gateway's question for every request with a session cookie or bearer token. */
		resolveSession: {
			params: { token: { type: "string", min: 1, max: 200 } },
			async handler(ctx: Ctx<{ token: string }>) {
				const session = await liveSession(this.db, ctx.params.token, portalConfig(this.broker).session);
				if (!session) return null;
				const account = await findById(this.db, session.account_id);
				if (account?.status !== "active") return null;
				return account.kind === "staff"
					? { kind: "staff", id: account.id, roles: account.roles, sessionId: session.id }
					: { kind: "account", id: account.id, roles: [], sessionId: session.id };
			},
		},
	},

	channels: {
		[Channels.purchaseCompleted]: {
			group: "identity",
			context: true,
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
	},

	methods: {
		async acceptPurchase(event: PurchaseEvent, source: "channel" | "webhook"): Promise<PurchaseOutcome> {
			const ttlMs = portalConfig(this.broker).activationTtlHours * 3_600_000;
			const { outcome, accountId } = await recordPurchase(this.db, this.enqueue.bind(this), event, source, ttlMs);
			this.logger.info({ eventId: event.eventId, accountId, outcome, source }, "purchase event handled");
			if (outcome === "account-created" || outcome === "product-added") void this.relayOutbox().catch(() => undefined);
			return outcome;
		},

		async startSignedIn(ctx: Ctx, accountId: string): Promise<{ account: Me; token: string }> {
			const config = portalConfig(this.broker);
			const { token } = await startSession(this.db, accountId, config.session, ctx.meta.request);
			const account = (await findById(this.db, accountId)) as AccountRow;
			ctx.meta.$session = { token, maxAgeSeconds: config.session.absoluteHours * 3600 };
			return { account: await describe(this.db, account), token };
		},
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
