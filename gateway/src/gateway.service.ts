import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Actor, PortalMeta } from "@portal/contracts";
import {
	Forbidden,
	GATEWAY_SERVICE,
	hmacSha256,
	isMailCaptured,
	type PortalConfig,
	PrometheusText,
	PUBLIC_CALL_HEADER,
	portalConfig,
	safeEqual,
	Unauthorized,
	ValidationError,
} from "@portal/platform";
import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import type { ApiSettingsSchema } from "moleculer-web";
import ApiGateway from "moleculer-web";
import { API_DOCS_CSS, API_DOCS_JS, renderApiDocs } from "./api-docs";
import { CSRF_COOKIE, parseCookies, SESSION_COOKIE, serializeCookie } from "./cookies";
import { openApiDocument, type RouteGroup } from "./openapi";
import { toProblem } from "./problem";
import { apiRoutes, devRoutes, hookRoutes, rootRoutes } from "./routes";
import { securityHeaders } from "./security-headers";
import { serveUi } from "./static-ui";
import { refusedField } from "./text-guard";

type Req = IncomingMessage & { $ctx: Ctx; $actor?: Actor; $action?: { access?: unknown }; body?: unknown };
type Res = ServerResponse;
type Ctx = Context<unknown, PortalMeta>;
interface GatewayThis {
	broker: ServiceBroker;
	logger: ServiceBroker["logger"];
	identify(ctx: Ctx, req: Req): Promise<void>;
	applySession(ctx: Ctx, res: Res): void;
	readiness(): Promise<{ ready: boolean; checks: Record<string, string> }>;
	honourGpc(ctx: Ctx, actor: Actor): Promise<void>;
	/** Sessions whose GPC signal compliance has recorded (per node). */
	gpcHonoured: Set<string>;
}

const BODY_LIMIT = "1mb";
const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const SYSTEM_ACTOR: Actor = { kind: "system", id: "purchase-webhook", roles: [] };

/** The CSRF token is the session token signed with SESSION_SECRET: bound to the session, never stored. */
const csrfFor = (config: PortalConfig, sessionToken: string) => hmacSha256(config.sessionSecret, `csrf:${sessionToken}`);

/** A cookie request is ours when it comes from our origin (if it says) and carries the session's CSRF token in header and cookie. */
function sameSiteRequest(config: PortalConfig, req: Req, sessionToken: string): boolean {
	const origin = req.headers.origin;
	if (origin && origin !== new URL(config.publicUrl).origin) return false;
	const sent = String(req.headers["x-csrf-token"] ?? "");
	const cookie = parseCookies(req.headers.cookie)[CSRF_COOKIE] ?? "";
	return safeEqual(sent, cookie) && safeEqual(sent, csrfFor(config, sessionToken));
}

const LOG_LEVELS: PortalConfig["logLevel"][] = ["trace", "debug", "info", "warn", "error", "fatal"];
const logs = (config: PortalConfig, level: PortalConfig["logLevel"]) => LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(config.logLevel);

/** How many GPC-honoured sessions a gateway node remembers before starting over (a bounded memory). */
const GPC_MEMORY = 10_000;

const clientIp = (req: IncomingMessage): string => req.socket.remoteAddress ?? "";

function sendJson(res: Res, status: number, body: unknown, contentType = "application/json; charset=utf-8") {
	res.statusCode = status;
	res.setHeader("Content-Type", contentType);
	res.end(JSON.stringify(body));
}

function sendText(res: Res, body: string, contentType: string) {
	res.statusCode = 200;
	res.setHeader("Content-Type", contentType);
	res.setHeader("Cache-Control", "no-cache");
	res.end(body);
}

/** First path segments the UI must never answer for: the API, probes and root aliases (`/l/:code`). */
function reservedSegments(): Set<string> {
	const segments = new Set(["api", "healthz", "readyz", "metrics"]);
	for (const alias of Object.keys(rootRoutes)) {
		const segment = alias
			.replace(/^[A-Z]+\s+/, "")
			.replace(/^\/+/, "")
			.split("/")[0];
		if (segment) segments.add(segment);
	}
	return segments;
}

/** Verifies the webhook's `X-OMTI-Signature` over the raw body, then parses it (route middleware). */
function verifyPurchaseSignature(config: PortalConfig) {
	return (req: Req, _res: Res, next: (err?: unknown) => void) => {
		const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
		const header = String(req.headers["x-omti-signature"] ?? "");
		const expected = `sha256=${hmacSha256(config.purchaseWebhookSecret, raw)}`;
		if (!safeEqual(header, expected)) return next(new Unauthorized("The signature does not match the body.", "BAD_SIGNATURE"));
		try {
			const parsed: unknown = JSON.parse(raw.toString("utf8"));
			if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
			req.body = parsed;
		} catch {
			return next(Object.assign(new Error("malformed"), { type: "entity.parse.failed" }));
		}
		req.$actor = SYSTEM_ACTOR;
		next();
	};
}

const GatewayService: ServiceSchema<ApiSettingsSchema> = {
	name: GATEWAY_SERVICE,
	mixins: [ApiGateway],

	settings: {
		port: 3000,
		ip: "127.0.0.1",
		routes: [],
		logRequestParams: null,
		logResponseData: null,
		log4XXResponses: false,
		logRouteRegistration: "debug",
	},

	actions: {
		// The HTTP handler itself is never retried: it consumed the body and rewrote `req.url`, so a
		// second run answers 404. The actions it calls are retried on another replica as configured.
		rest: { retryPolicy: { enabled: false } },
	},

	methods: {
		/** Session from cookie or bearer token → `ctx.meta.actor`; CSRF for cookie-authenticated changes. */
		async identify(this: GatewayThis, ctx: Ctx, req: Req) {
			const config = portalConfig(this.broker);
			ctx.meta.request = {
				ip: clientIp(req),
				userAgent: String(req.headers["user-agent"] ?? "").slice(0, 500),
				requestId: ctx.requestID ?? "",
				gpc: req.headers["sec-gpc"] === "1",
			};
			if (req.$actor) {
				ctx.meta.actor = req.$actor;
				return;
			}
			const authorization = String(req.headers.authorization ?? "");
			const bearer = /^Bearer ([A-Za-z0-9_-]{20,200})$/.exec(authorization)?.[1];
			const cookieToken = parseCookies(req.headers.cookie)[SESSION_COOKIE];
			const token = bearer ?? cookieToken;
			if (!token) return;
			const actor = await ctx.call<Actor | null, { token: string }>("identity.resolveSession", { token });
			if (!actor) return;
			if (!bearer && STATE_CHANGING.has(req.method ?? "") && !sameSiteRequest(config, req, token)) {
				// A public action never uses the session, so it runs anonymously rather than failing
				// (e.g. the one-click unsubscribe page opened in a signed-in browser).
				if (req.$action?.access === "public") return;
				const origin = req.headers.origin;
				if (origin && origin !== new URL(config.publicUrl).origin) throw new Forbidden("Cross-site request refused.", "CSRF_ORIGIN");
				throw new Forbidden("Missing or wrong CSRF token.", "CSRF_TOKEN");
			}
			ctx.meta.actor = actor;
			if (ctx.meta.request.gpc && actor.kind === "account") await this.honourGpc(ctx, actor);
		},

		/**
		 * Global Privacy Control (R24): a signed-in request with `Sec-GPC: 1` withdraws consent to sale
		 * and sharing. Compliance records it once; this node remembers the sessions it already told, so
		 * the signal costs one call per session. If compliance cannot be reached the request goes on and
		 * the next request with the header tries again.
		 */
		async honourGpc(this: GatewayThis, ctx: Ctx, actor: Actor) {
			const key = actor.sessionId ?? actor.id;
			if (this.gpcHonoured.has(key)) return;
			try {
				await ctx.call("compliance.honourGpc", { accountId: actor.id });
				if (this.gpcHonoured.size >= GPC_MEMORY) this.gpcHonoured.clear();
				this.gpcHonoured.add(key);
			} catch (err) {
				this.logger.warn({ err: (err as Error).message }, "GPC signal not recorded yet; will retry on the next request");
			}
		},

		/** Turns identity's `$session` answer into the session and CSRF cookies. */
		applySession(this: GatewayThis, ctx: Ctx, res: Res) {
			const change = ctx.meta.$session;
			if (!change) return;
			const config = portalConfig(this.broker);
			const secure = config.cookieSecure;
			if ("ended" in change) {
				res.setHeader("Set-Cookie", [
					serializeCookie(SESSION_COOKIE, "", { maxAgeSeconds: 0, httpOnly: true, secure }),
					serializeCookie(CSRF_COOKIE, "", { maxAgeSeconds: 0, httpOnly: false, secure }),
				]);
			} else {
				res.setHeader("Set-Cookie", [
					serializeCookie(SESSION_COOKIE, change.token, { maxAgeSeconds: change.maxAgeSeconds, httpOnly: true, secure }),
					serializeCookie(CSRF_COOKIE, csrfFor(config, change.token), { maxAgeSeconds: change.maxAgeSeconds, httpOnly: false, secure }),
				]);
			}
			ctx.meta.$session = undefined;
		},

		async readiness(this: GatewayThis): Promise<{ ready: boolean; checks: Record<string, string> }> {
			const broker = this.broker;
			const checks: Record<string, string> = {
				broker: broker.started && !broker.stopping ? "up" : "down",
				transporter: !broker.transit || broker.transit.connected ? "up" : "down",
			};
			try {
				await broker.call("identity.health", {}, { timeout: 2_000 });
				checks.database = "up";
			} catch {
				checks.database = "down";
			}
			return { ready: Object.values(checks).every((v) => v === "up"), checks };
		},
	},

	/**
	 * Routes depend on the validated config, so they are set when the schema is merged, before
	 * moleculer-web reads them (an empty route list would make it add a catch-all route).
	 */
	merged(this: GatewayThis, schema: ServiceSchema<ApiSettingsSchema>) {
		const config = portalConfig(this.broker);
		const settings = schema.settings as ApiSettingsSchema;
		const devMailbox = isMailCaptured(config) && config.nodeEnv !== "production";
		async function onBeforeCall(this: GatewayThis, ctx: Ctx, _route: unknown, req: Req & { $params?: unknown }) {
			await this.identify(ctx, req);
			const refused = refusedField(req.body) ?? refusedField(req.$params);
			if (refused) throw new ValidationError("Some fields are invalid.", [refused]);
		}
		function onAfterCall(this: GatewayThis, ctx: Ctx, _route: unknown, _req: Req, res: Res, data: unknown) {
			this.applySession(ctx, res);
			res.setHeader("Cache-Control", "no-store");
			return data;
		}

		const publicCall = { timeout: 10_000, headers: { [PUBLIC_CALL_HEADER]: "1" } };
		const v1Aliases = { ...apiRoutes, ...(devMailbox ? devRoutes : {}) };
		const routeGroups: RouteGroup[] = [
			{ prefix: "/api/v1/hooks", aliases: hookRoutes, auth: "signature" },
			{ prefix: "/api/v1", aliases: v1Aliases, auth: "session" },
			{ prefix: "/", aliases: rootRoutes, auth: "session" },
		];
		// Built per request from the live registry, so the actions of every node are described.
		const openApi = (broker: ServiceBroker) => openApiDocument(broker, routeGroups, "v1");

		settings.port = config.port;
		settings.ip = config.host;
		// moleculer-web formats its per-request lines (colours, timings) before the logger drops them:
		// ask only for the lines the configured level prints.
		settings.logRequest = logs(config, "debug") ? "debug" : null;
		settings.logResponse = logs(config, "info") ? "info" : null;
		const withSecurityHeaders = securityHeaders(config.cookieSecure);
		settings.use = [withSecurityHeaders];
		settings.onError = function onError(this: GatewayThis, req: Req, res: Res, err: Error) {
			// A route's body parsers run before `use`, so their refusals (400, 413, 415) get the headers here.
			withSecurityHeaders(req, res, () => undefined);
			const { problem, headers } = toProblem(err);
			if (problem.status >= 500) this.logger.error({ err: { name: err.name, message: err.message, stack: err.stack } }, "request failed");
			for (const [key, value] of Object.entries(headers)) res.setHeader(key, value);
			if (req.$ctx?.requestID) res.setHeader("X-Request-ID", req.$ctx.requestID);
			sendJson(res, problem.status, problem, "application/problem+json; charset=utf-8");
		};
		settings.routes = [
			{
				path: "/api/v1/hooks",
				bodyParsers: { json: false, raw: { type: () => true, limit: BODY_LIMIT } },
				use: [verifyPurchaseSignature(config)],
				aliases: hookRoutes,
				mappingPolicy: "restrict",
				callOptions: publicCall,
				onBeforeCall,
				onAfterCall,
			},
			{
				path: "/api/v1",
				bodyParsers: { json: { limit: BODY_LIMIT, strict: true } },
				aliases: v1Aliases,
				mappingPolicy: "restrict",
				callOptions: publicCall,
				onBeforeCall,
				onAfterCall,
			},
			{
				path: "/",
				bodyParsers: false,
				// The UI answers GET/HEAD outside the reserved prefixes, before the aliases below.
				use: [serveUi(reservedSegments())],
				mappingPolicy: "restrict",
				callOptions: publicCall,
				onBeforeCall,
				onAfterCall,
				aliases: {
					...rootRoutes,
					"GET api/openapi.json"(this: GatewayThis, _req: Req, res: Res) {
						res.setHeader("Cache-Control", "no-cache");
						sendJson(res, 200, openApi(this.broker));
					},
					"GET api/docs"(this: GatewayThis, _req: Req, res: Res) {
						sendText(res, renderApiDocs(openApi(this.broker)), "text/html; charset=utf-8");
					},
					"GET api/docs/docs.css"(_req: Req, res: Res) {
						sendText(res, API_DOCS_CSS, "text/css; charset=utf-8");
					},
					"GET api/docs/docs.js"(_req: Req, res: Res) {
						sendText(res, API_DOCS_JS, "text/javascript; charset=utf-8");
					},
					"GET healthz"(_req: Req, res: Res) {
						sendJson(res, 200, { status: "alive" });
					},
					async "GET readyz"(this: GatewayThis, _req: Req, res: Res) {
						const { ready, checks } = await this.readiness();
						sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready", checks });
					},
					"GET metrics"(this: GatewayThis, _req: Req, res: Res) {
						const reporters = (this.broker.metrics as unknown as { reporter?: unknown[] }).reporter ?? [];
						const reporter = reporters.find((r): r is PrometheusText => r instanceof PrometheusText);
						res.setHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
						res.end(reporter ? reporter.render() : "");
					},
				},
			},
		];
	},

	created() {
		this.gpcHonoured = new Set<string>();
		// Node closes an idle kept-alive connection after 5 s: a client or load balancer that reuses it at
		// that moment loses its request ("other side closed", a 502). Outlast their idle timeouts (60 s
		// on common balancers), so that they always close first.
		const server: Server = this.server;
		server.keepAliveTimeout = 65_000;
		server.headersTimeout = 66_000;
	},
};

export default GatewayService;
