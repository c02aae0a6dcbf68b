import { randomBytes } from "node:crypto";
import { RequestContextMiddleware } from "@portal/platform";
import { type BrokerOptions, type Context, Errors, ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";
import { hashPassword, verifyPassword } from "../../services/identity/src/passwords";

/**
 * The stack's floor for the portal's two busiest requests: their shape on bare moleculer-web and
 * Moleculer, and none of the portal's code.
 * - The owner's read: three actions, as in the portal: moleculer-web's HTTP handler, the session
 *   lookup, the profile read; both lookups answered from the cacher (memory in one process, Redis over
 *   NATS), seeded at start with the bench's token and body.
 * - A sign-in: the HTTP handler and identity's action, which verifies the password with the portal's
 *   own hashing (argon2id, its parameters and its limit of hashes at a time) and returns a new token;
 *   no database, no session, no events.
 *
 * `FLOOR_RULES=1` adds the two things the portal's rules make every call carry: a request timeout
 * (Moleculer's Timeout middleware, so a hung call fails instead of holding the request) and the
 * request scope that puts the request id in every log line (ARCHITECTURE rule 9).
 *
 * `FLOOR_ROLE`: `all` (one process), or `gateway`, `identity`, `profile` (one process each, over
 * `TRANSPORTER`, with the Redis cacher at `CACHER`); the gateway waits for the services in
 * `FLOOR_NEEDS`.
 */
const role = process.env.FLOOR_ROLE ?? "all";
const token = process.env.FLOOR_TOKEN ?? "";
const body: unknown = JSON.parse(process.env.FLOOR_BODY ?? "{}");
const namespace = process.env.NAMESPACE ?? "";
const sessionKey = (sessionToken: string) => `floor.session:${sessionToken}`;
const profileKey = (accountId: string) => `floor.profile:${accountId}`;
const actor = { kind: "account", id: "floor-account", roles: [] };
const password = process.env.FLOOR_PASSWORD ?? "";

const redis = process.env.CACHER ? new URL(process.env.CACHER) : undefined;
const options: BrokerOptions = {
	namespace,
	nodeID: `floor-${role}-${process.pid}`,
	logger: false,
	transporter: process.env.TRANSPORTER ? { type: "NATS", options: { url: process.env.TRANSPORTER } } : undefined,
	// The test infrastructure's key prefix, so that its cleanup removes these keys too.
	cacher: redis
		? { type: "Redis", options: { redis: { host: redis.hostname, port: Number(redis.port) }, prefix: `portal-${namespace}` } }
		: "Memory",
};
if (process.env.FLOOR_RULES === "1") {
	options.requestTimeout = 10_000;
	options.middlewares = [RequestContextMiddleware()];
}
const broker = new ServiceBroker(options);
const cacher = () => broker.cacher as NonNullable<ServiceBroker["cacher"]>;

// A lookup that misses answers 401: a floor that stopped reading its cache shows as non-2xx.
const found = <T>(value: T | null): T => {
	if (value === null) throw new Errors.MoleculerClientError("Not signed in.", 401);
	return value;
};

if (role === "all" || role === "identity") {
	const passwordHash = hashPassword(password);
	broker.createService({
		name: "identity",
		actions: {
			signIn: {
				params: { login: { type: "string", min: 1, max: 254 }, password: { type: "string", min: 1, max: 1024 } },
				handler: async (ctx: Context<{ password: string }>) => {
					if (!(await verifyPassword(await passwordHash, ctx.params.password)))
						throw new Errors.MoleculerClientError("Wrong password.", 401);
					return { token: randomBytes(32).toString("base64url") };
				},
			},
			resolveSession: {
				params: { token: { type: "string", min: 1, max: 200 } },
				handler: async (ctx: Context<{ token: string }>) => found(await cacher().get(sessionKey(ctx.params.token))),
			},
		},
	});
}
if (role === "all" || role === "profile") {
	broker.createService({
		name: "profile",
		actions: {
			getMine: async (ctx: Context<unknown, { actor: { id: string } }>) => found(await cacher().get(profileKey(ctx.meta.actor.id))),
		},
	});
}
if (role === "all" || role === "gateway") {
	broker.createService({
		name: "floor-gateway",
		mixins: [ApiGateway],
		dependencies: (process.env.FLOOR_NEEDS ?? "identity,profile").split(","),
		settings: {
			port: Number(process.env.PORT),
			ip: "127.0.0.1",
			logRequest: null,
			logResponse: null,
			routes: [
				{
					path: "/api/v1",
					mappingPolicy: "restrict",
					bodyParsers: { json: true },
					aliases: { "GET profiles/me": "profile.getMine", "POST auth/sign-in": "identity.signIn" },
					async onBeforeCall(
						ctx: Context<unknown, { actor?: unknown }>,
						_route: unknown,
						req: { headers: Record<string, string | undefined> },
					) {
						const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
						if (bearer) ctx.meta.actor = await ctx.call("identity.resolveSession", { token: bearer });
					},
				},
			],
		},
		async started() {
			await cacher().set(sessionKey(token), actor);
			await cacher().set(profileKey(actor.id), body);
			process.stdout.write("ready\n");
		},
	});
}

void broker.start();
