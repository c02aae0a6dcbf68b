import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Channels } from "@portal/contracts";
import type { ActionSchema, Context, Middleware, ServiceBroker } from "moleculer";
import type { PortalConfig } from "./config";
import { onScrape, PrometheusText } from "./metrics";

/**
 * Where a process is in its life, as Kubernetes needs to know it: `starting` (not ready yet),
 * `up`, `stopping` (drain: readiness false at once, liveness still true so the pod is not killed
 * mid-drain), `down`.
 */
export type HealthState = "starting" | "up" | "stopping" | "down";

export interface Readiness {
	ready: boolean;
	state: HealthState;
	checks: Record<string, "up" | "down">;
}

const states = new WeakMap<ServiceBroker, HealthState>();
const servers = new WeakMap<ServiceBroker, Server>();

/** How long one readiness check may take: kubelet probes time out too, and a hung database is "down". */
const CHECK_TIMEOUT_MS = 2_000;

/** The process's health state; a broker created without {@link HealthMiddleware} is reported by its flags. */
export function healthState(broker: ServiceBroker): HealthState {
	const state = states.get(broker);
	if (state) return state;
	if (broker.stopping) return "stopping";
	return broker.started ? "up" : "starting";
}

/**
 * Follows the broker's lifecycle and closes the health server once the broker has stopped.
 * Readiness does not wait for the `stopping` hook: `broker.stop()` clears `broker.started` first
 * (see {@link readiness}), so the pod leaves the Service endpoints before the drain begins.
 */
export function HealthMiddleware(): Middleware {
	return {
		name: "Health",
		created(broker: ServiceBroker) {
			states.set(broker, "starting");
		},
		started(broker: ServiceBroker) {
			states.set(broker, "up");
		},
		stopping(broker: ServiceBroker) {
			states.set(broker, "stopping");
		},
		async stopped(broker: ServiceBroker) {
			states.set(broker, "down");
			const server = servers.get(broker);
			servers.delete(broker);
			if (server) await closeServer(server);
		},
	} as unknown as Middleware;
}

/**
 * Readiness of this process only: broker started and not stopping, transporter connected (when
 * there is one), and each local service with a database answering its own `health` action.
 */
export async function readiness(broker: ServiceBroker): Promise<Readiness> {
	let state = healthState(broker);
	// `broker.stop()` clears `started` first, before the stop delay and the drain.
	if (state === "up" && !broker.started) state = "stopping";
	const checks: Readiness["checks"] = { broker: state === "up" ? "up" : "down" };
	if (broker.transit) checks.transporter = broker.transit.connected && !broker.transit.disconnecting ? "up" : "down";
	// Local services answer only once the broker has started; before that "starting" says it all.
	const databases =
		state !== "up" ? [] : broker.services.filter((svc) => svc.metadata?.schema !== undefined && svc.schema.actions?.health !== undefined);
	await Promise.all(
		databases.map(async (svc) => {
			try {
				await broker.call(`${svc.fullName}.health`, {}, { nodeID: broker.nodeID, timeout: CHECK_TIMEOUT_MS });
				checks[`database:${svc.name}`] = "up";
			} catch {
				checks[`database:${svc.name}`] = "down";
			}
		}),
	);
	return { ready: Object.values(checks).every((check) => check === "up"), state, checks };
}

/**
 * The portal's own metrics, beside Moleculer's built-in ones (`portal_*` in /metrics). Services
 * that own a number increment or set it by name: `this.broker.metrics.increment(DomainMetric.mailsSent)`.
 */
export const DomainMetric = {
	accountsCreated: "portal.accounts.created.total",
	signIns: "portal.sign_ins.total",
	mailsSent: "portal.mails.sent.total",
	mailsFailed: "portal.mails.failed.total",
	privacyRequestsOpen: "portal.privacy_requests.open",
	privacyRequestsOverdue: "portal.privacy_requests.overdue",
	eventLoopDelayP99: "portal.event_loop.delay.p99",
	eventLoopDelayMax: "portal.event_loop.delay.max",
} as const;

/** The window over which event-loop delay is summarised (a gauge per window, not since start). */
const EVENT_LOOP_WINDOW_MS = 1_000;
/** The sampling timer's period; Node's histogram records it as part of every delay, so it is taken off. */
const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * Registers the domain metrics in every process (so dashboards see zeros, not gaps) and counts
 * what is visible from the broker: sign-ins by outcome, and accounts created as the
 * `accountCreated` facts identity relays (at least once: a rare relay retry counts twice); and the
 * event-loop delay, the one number that says CPU work is making every request wait.
 */
export function DomainMetricsMiddleware(): Middleware {
	let broker: ServiceBroker | undefined;
	const metrics = () => (broker?.isMetricsEnabled() ? broker.metrics : undefined);
	let loopDelay: ReturnType<typeof monitorEventLoopDelay> | undefined;
	let loopWindow: NodeJS.Timeout | undefined;
	return {
		name: "DomainMetrics",
		created(b: ServiceBroker) {
			broker = b;
			const m = metrics();
			if (!m) return;
			// Counters start at an explicit zero (an unset metric is left out of the exposition);
			// gauges stay unset until the service that owns the number sets it.
			const counter = (name: string, description: string, series: Record<string, string>[] = [{}]) => {
				m.register({ type: "counter", name, description, labelNames: Object.keys(series[0] ?? {}) });
				for (const labels of series) m.increment(name, labels, 0);
			};
			const gauge = (name: string, description: string) => m.register({ type: "gauge", name, description });
			counter(DomainMetric.accountsCreated, "Accounts created from purchases");
			counter(DomainMetric.signIns, "Sign-in attempts by result", [{ result: "success" }, { result: "failure" }]);
			counter(DomainMetric.mailsSent, "Mails accepted by the SMTP server");
			counter(DomainMetric.mailsFailed, "Mails given up after their last attempt (bounced or failed)");
			gauge(DomainMetric.privacyRequestsOpen, "Privacy requests not yet completed");
			gauge(DomainMetric.privacyRequestsOverdue, "Open privacy requests past their legal deadline");
			gauge(DomainMetric.eventLoopDelayP99, "Event-loop delay p99 in ms over the last second (CPU work blocking every request)");
			gauge(DomainMetric.eventLoopDelayMax, "Event-loop delay max in ms over the last second");
			loopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
			loopDelay.enable();
			const delayMs = (ns: number) => Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION_MS);
			loopWindow = setInterval(() => {
				if (!loopDelay) return;
				m.set(DomainMetric.eventLoopDelayP99, delayMs(loopDelay.percentile(99)));
				m.set(DomainMetric.eventLoopDelayMax, delayMs(loopDelay.max));
				loopDelay.reset();
			}, EVENT_LOOP_WINDOW_MS).unref();
		},
		stopped() {
			clearInterval(loopWindow);
			loopDelay?.disable();
		},
		localAction(next: (ctx: Context) => Promise<unknown>, action: ActionSchema) {
			if (action.name !== "identity.signIn") return next;
			return (ctx: Context) =>
				next(ctx).then(
					(result) => {
						metrics()?.increment(DomainMetric.signIns, { result: "success" });
						return result;
					},
					(err: unknown) => {
						metrics()?.increment(DomainMetric.signIns, { result: "failure" });
						throw err;
					},
				);
		},
		sendToChannel(next: (channel: string, payload: unknown, opts?: unknown) => Promise<unknown>) {
			return async (channel: string, payload: unknown, opts?: unknown) => {
				const result = await next(channel, payload, opts);
				if (channel === Channels.accountCreated) metrics()?.increment(DomainMetric.accountsCreated);
				return result;
			};
		},
	} as unknown as Middleware;
}

export const CallMetric = {
	calls: "portal.calls.total",
	failures: "portal.call_failures.total",
} as const;

/**
 * Counts the actions this process handled, and their failures by code: the one per-call
 * measurement. It replaces Moleculer's own call metrics (five labelled series and a quantile
 * histogram per call, about a quarter of a cached read's CPU: BENCHMARKS.md); durations are
 * traced instead (TRACING_EXPORTER). Calls are tallied in a plain map and written to the registry
 * when it is scraped: a registry update per call costs more than the cached read it counts.
 */
export function CallMetricsMiddleware(): Middleware {
	let broker: ServiceBroker | undefined;
	const tally = new Map<string, number>();
	return {
		name: "CallMetrics",
		created(b: ServiceBroker) {
			broker = b;
			if (!b.isMetricsEnabled()) return;
			b.metrics.register({ type: "counter", name: CallMetric.calls, description: "Actions handled", labelNames: ["action"] });
			b.metrics.register({
				type: "counter",
				name: CallMetric.failures,
				description: "Actions that answered with an error, by code",
				labelNames: ["action", "code"],
			});
			onScrape(b, () => {
				for (const [action, calls] of tally) b.metrics.increment(CallMetric.calls, { action }, calls);
				tally.clear();
			});
		},
		localAction(next: (ctx: Context) => Promise<unknown>, action: ActionSchema) {
			const metrics = broker?.isMetricsEnabled() ? broker.metrics : undefined;
			const name = action.name as string;
			if (!metrics) return next;
			return (ctx: Context) => {
				tally.set(name, (tally.get(name) ?? 0) + 1);
				return next(ctx).catch((err: { code?: unknown }) => {
					metrics.increment(CallMetric.failures, { action: name, code: String(err?.code ?? "") });
					throw err;
				});
			};
		},
	} as unknown as Middleware;
}

/** The Prometheus text of this broker's metrics (Moleculer's own and the portal's domain counters). */
export function metricsText(broker: ServiceBroker): string {
	const reporters = (broker.metrics as unknown as { reporter?: unknown[] }).reporter ?? [];
	const reporter = reporters.find((r): r is PrometheusText => r instanceof PrometheusText);
	return reporter ? reporter.render() : "";
}

function send(res: ServerResponse, status: number, body: unknown): void {
	res.statusCode = status;
	res.setHeader("Content-Type", "application/json; charset=utf-8");
	res.setHeader("Cache-Control", "no-store");
	res.end(JSON.stringify(body));
}

async function answer(broker: ServiceBroker, req: IncomingMessage, res: ServerResponse): Promise<void> {
	if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, { status: "method not allowed" });
	const path = new URL(req.url ?? "/", "http://health").pathname;
	if (path === "/livez" || path === "/healthz") {
		const state = healthState(broker);
		return send(res, state === "down" ? 503 : 200, { status: state === "down" ? "down" : "alive", state });
	}
	if (path === "/readyz") {
		const result = await readiness(broker);
		return send(res, result.ready ? 200 : 503, { status: result.ready ? "ready" : "not ready", ...result });
	}
	if (path === "/metrics") {
		res.statusCode = 200;
		res.setHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
		res.end(metricsText(broker));
		return;
	}
	send(res, 404, { status: "not found" });
}

/**
 * Starts the health server on HEALTH_PORT (a port of its own, so probes and scrapes never queue
 * behind user traffic and processes without the gateway answer too). Start it before the broker
 * so that liveness answers during a slow start; it closes itself when the broker has stopped.
 */
export async function startHealthServer(broker: ServiceBroker, config: Pick<PortalConfig, "healthPort" | "host">): Promise<Server> {
	const server = createServer((req, res) => {
		answer(broker, req, res).catch(() => send(res, 500, { status: "error" }));
	});
	// Probes are short; a kept-alive probe socket must not hold the process open at exit.
	server.keepAliveTimeout = 1_000;
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(config.healthPort ?? 0, config.host, () => {
			server.off("error", reject);
			resolve();
		});
	});
	servers.set(broker, server);
	return server;
}

function closeServer(server: Server): Promise<void> {
	return new Promise((resolve) => {
		server.close(() => resolve());
		server.closeAllConnections();
	});
}
