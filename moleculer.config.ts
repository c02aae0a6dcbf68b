import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
	AccessMiddleware,
	CallMetricsMiddleware,
	ChannelsMiddleware,
	DomainMetricsMiddleware,
	HealthMiddleware,
	InProcessChannels,
	loggerOptions,
	type PortalConfig,
	PrometheusText,
	portalCacher,
	RequestContextMiddleware,
	StrictValidator,
} from "@portal/platform";
import { type BrokerOptions, type Context, Errors } from "moleculer";

/**
 * The one broker configuration every process uses, whatever services it runs (ARCHITECTURE:
 * runtime modes). Everything comes from the validated config; nothing here reads the environment.
 */
export function brokerOptions(config: PortalConfig): BrokerOptions {
	return {
		namespace: config.namespace,
		// Unique per broker, so that several brokers in one test process never collide.
		nodeID: `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
		portal: config,
		transporter: config.transporter ? { type: "NATS", options: { url: config.transporter, maxReconnectAttempts: -1 } } : undefined,
		cacher: portalCacher(config),
		logger: loggerOptions(config),
		requestTimeout: 10_000,
		// A replica that dies without a goodbye (kill -9, OOM, lost node) is declared gone within a few
		// seconds, well inside requestTimeout; its pending requests are then rejected and retried below.
		heartbeatInterval: 1,
		heartbeatTimeout: 3,
		// Only "the replica went away before answering" is retried, on another replica (R30). Other
		// errors are answers and are never repeated.
		retryPolicy: {
			enabled: true,
			retries: 2,
			delay: 100,
			maxDelay: 1_000,
			factor: 2,
			check: (err: Error) => err instanceof Errors.RequestRejectedError || err instanceof Errors.ServiceNotAvailableError,
		},
		registry: { strategy: "RoundRobin", preferLocal: true },
		circuitBreaker: { enabled: false },
		// The Fake channel adapter (TRANSPORTER without CHANNELS) delivers through a bulkhead whose queue would
		// otherwise refuse messages past 100 — silently, since it publishes by emit. Unbounded here;
		// JetStream's own flow control applies with NATS.
		bulkhead: { enabled: false, concurrency: 10, maxQueueSize: 0 },
		tracking: { enabled: true, shutdownTimeout: 10_000 },
		// Moleculer announces a process's changed services 1 s later (debounced) and does not cancel that
		// on stop (moleculer#1185): the pending timer held a stopped broker's process open for up to 1 s.
		stopped: (broker) => (broker.localServiceChanged as { cancel?: () => void }).cancel?.(),
		validator: new StrictValidator() as never,
		metrics: { enabled: true, reporter: [new PrometheusText() as never] },
		tracing:
			config.tracingExporter === "none"
				? { enabled: false }
				: {
						enabled: true,
						exporter:
							config.tracingExporter === "console"
								? { type: "Console" }
								: config.tracingExporter === "zipkin"
									? { type: "Zipkin", options: { baseURL: config.tracingEndpoint ?? "http://127.0.0.1:9411" } }
									: { type: "Jaeger", options: { endpoint: config.tracingEndpoint ?? undefined } },
					},
		middlewares: [
			HealthMiddleware(),
			DomainMetricsMiddleware(),
			SkipGoneReplicas,
			AccessMiddleware(),
			ChannelsMiddleware({
				// Durable JetStream with CHANNELS. Without it, consumers in other processes (TRANSPORTER) are
				// reached through broker events (Fake adapter); a process on its own calls its handlers directly.
				adapter: config.channels
					? {
							type: "NATS",
							options: {
								nats: {
									url: config.channels,
									// noAsyncTraces: nats.js otherwise builds an Error and reads its stack on every
									// JetStream publish (its PubAck request), only to enrich a timeout that rarely comes.
									connectionOptions: { maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true },
									// A durable consumer created after messages were published still gets them.
									consumerOptions: { config: { deliver_policy: "all", ack_wait: 30_000_000_000 } },
								},
								maxRetries: 5,
								// Consumers are idempotent and need no order: take several messages at a time.
								maxInFlight: 16,
							},
						}
					: config.transporter
						? { type: "Fake", options: { maxInFlight: 16 } }
						: new InProcessChannels({ maxRetries: 5, maxInFlight: 16 }),
				context: true,
			}),
			// Last of ours, so it wraps the others: what they log while handling a request names it too.
			RequestContextMiddleware(),
			CallMetricsMiddleware(),
			...MOLECULER_MIDDLEWARES,
		],
		internalMiddlewares: false,
	};
}

/**
 * Moleculer's internal middlewares in its own order, but for two that every call would pay for:
 * - "Metrics" updates five labelled series and a quantile histogram on every call, a quarter of the
 *   CPU of a cached read (BENCHMARKS.md); CallMetrics counts calls and failures instead.
 * - "Fallback" wraps every call to answer a failure with a stand-in; the portal never does (it
 *   fails closed), so it has no fallbacks to run.
 */
const MOLECULER_MIDDLEWARES = [
	"ActionHook",
	"Validator",
	"Bulkhead",
	"Cacher",
	"ContextTracker",
	"CircuitBreaker",
	"Timeout",
	"Retry",
	"ErrorHandler",
	"Tracing",
	"Debounce",
	"Throttle",
];

/**
 * moleculer-web picks an action's endpoint before authentication; if that replica is declared gone
 * meanwhile, the call is refused here instead of being sent into the void, so the retry policy
 * sends it to another replica.
 */
const SkipGoneReplicas = {
	name: "SkipGoneReplicas",
	remoteAction(next: (ctx: Context) => Promise<unknown>) {
		return (ctx: Context) =>
			ctx.endpoint?.node?.available === false
				? Promise.reject(new Errors.ServiceNotAvailableError({ action: ctx.action?.name ?? "", nodeID: ctx.nodeID ?? "" }))
				: next(ctx);
	},
};

/** The services a process runs: `SERVICES=identity,profile`, or every one of them. */
export function selectServices<T>(config: PortalConfig, catalog: Record<string, T>): T[] {
	const names = config.services ?? Object.keys(catalog);
	const unknown = names.filter((name) => !(name in catalog));
	if (unknown.length > 0) {
		throw new Error(`SERVICES names unknown services: ${unknown.join(", ")} (known: ${Object.keys(catalog).join(", ")})`);
	}
	return names.map((name) => catalog[name] as T);
}
