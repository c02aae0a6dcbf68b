import { Adapters, Middleware as Channels } from "@moleculer/channels";
import type { Middleware, ServiceBroker } from "moleculer";
import { onScrape } from "./metrics";

type ChannelsOptions = Parameters<typeof Channels>[0];
type BaseAdapter = InstanceType<typeof Adapters.Base>;
/** @moleculer/channels' consumer definition, as its middleware hands it to adapters and `localChannel` hooks. */
type Channel = Parameters<BaseAdapter["subscribe"]>[0];

/** The metric names @moleculer/channels gives the series it keeps per message (src/constants.js). */
export const ChannelMetric = {
	sent: "moleculer.channels.messages.sent",
	total: "moleculer.channels.messages.total",
	active: "moleculer.channels.messages.active",
} as const;

export interface PortalChannelsOptions {
	/** An adapter instance, or @moleculer/channels' adapter configuration. */
	adapter: unknown;
	/** Handlers get a Moleculer context (meta and tracing flow through). */
	context: boolean;
}

interface Consumer {
	id: string;
	labels: { channel: string; group: string };
	/** Messages handed to the handler since the last scrape. */
	received: number;
}

/**
 * @moleculer/channels' middleware, with its per-message metrics kept as tallies written to the
 * registry when it is scraped, as CallMetrics does for calls. Left to itself, the middleware wraps
 * every handler with a quantile timer, a counter and a gauge bumped up and down (six registry updates,
 * each hashing its labels, and two more promises per message): ~5 µs of an ingested usage record's
 * ~31 µs, and the garbage of that path (BENCHMARKS.md). The same series remain: messages sent per
 * channel, received per channel and group, and in flight (read from the adapter at scrape). The
 * latency histogram is gone, as for calls: trace when timings are needed. The adapter's own
 * counters (errors, retries, dead-lettering) are untouched: they are rare and stay live.
 *
 * The middleware turns its metrics on or off by `broker.isMetricsEnabled()` alone, so it is handed a
 * view of the broker that answers "off" and counts `sendToChannel`'s one increment in memory; the
 * adapter and the contexts it creates get the broker itself.
 */
export function ChannelsMiddleware(opts: PortalChannelsOptions): Middleware {
	const adapter = Adapters.resolve(opts.adapter as never) as BaseAdapter;
	const consumers: Consumer[] = [];
	const sent = new Map<string, number>();
	const inner = Channels({ ...opts, adapter } as unknown as ChannelsOptions) as unknown as Record<string, unknown> & {
		created(broker: ServiceBroker): void;
	};

	return {
		...inner,
		name: "Channels",
		created(broker: ServiceBroker) {
			const init = adapter.init.bind(adapter);
			adapter.init = (_view: unknown, logger: unknown) => init(broker as never, logger as never);
			const view = untimedView(broker, sent);
			inner.created(view);
			for (const key of PUBLISHED) Object.assign(broker, { [key]: (view as unknown as Record<string, unknown>)[key] });
			if (!broker.isMetricsEnabled()) return;
			const m = broker.metrics;
			m.register({ type: "counter", name: ChannelMetric.sent, labelNames: ["channel"], description: "Messages sent to a channel" });
			m.register({
				type: "counter",
				name: ChannelMetric.total,
				labelNames: ["channel", "group"],
				description: "Channel messages handed to a handler",
			});
			m.register({
				type: "gauge",
				name: ChannelMetric.active,
				labelNames: ["channel", "group"],
				description: "Channel messages in flight",
			});
			onScrape(broker, () => {
				for (const [channel, count] of sent) m.increment(ChannelMetric.sent, { channel }, count);
				sent.clear();
				const active = new Map<Consumer["labels"], number>();
				for (const c of consumers) {
					m.increment(ChannelMetric.total, c.labels, c.received);
					c.received = 0;
					active.set(c.labels, (active.get(c.labels) ?? 0) + adapter.getNumberOfChannelActiveMessages(c.id));
				}
				for (const [labels, count] of active) m.set(ChannelMetric.active, count, labels);
			});
		},
		localChannel(next: (...args: unknown[]) => Promise<unknown>, chan: Channel) {
			const consumer: Consumer = { id: chan.id, labels: { channel: unprefixed(adapter, chan.name), group: chan.group }, received: 0 };
			const same = consumers.find((c) => c.labels.channel === consumer.labels.channel && c.labels.group === consumer.labels.group);
			if (same) consumer.labels = same.labels;
			consumers.push(consumer);
			return (...args: unknown[]) => {
				consumer.received++;
				return next(...args);
			};
		},
	} as unknown as Middleware;
}

/** The channel's name as its service declares it (the metrics' `channel` label), without the adapter's prefix. */
function unprefixed(adapter: BaseAdapter, name: string): string {
	const prefix = (adapter.opts as { prefix?: string }).prefix;
	return prefix && name.startsWith(`${prefix}.`) ? name.slice(prefix.length + 1) : name;
}

/**
 * The broker as the channels middleware sees it: metrics "off" (no per-message wrapper), and
 * `metrics.increment` tallying `sendToChannel`'s count in `sent`. It inherits everything else from
 * the broker (a prototype, not a Proxy: the middleware reads the broker on every message, and a
 * Proxy there made Moleculer's Context.create several times slower). Contexts are created for the
 * broker itself, so a handler's `ctx.broker` is the real one.
 */
function untimedView(broker: ServiceBroker, sent: Map<string, number>): ServiceBroker {
	const Factory = broker.ContextFactory as unknown as new (b: ServiceBroker, endpoint: unknown) => object;
	return Object.create(broker, {
		isMetricsEnabled: { value: () => false },
		metrics: {
			value: {
				increment(_name: string, labels: { channel: string }, value = 1) {
					sent.set(labels.channel, (sent.get(labels.channel) ?? 0) + value);
				},
			},
		},
		// Called with `new`: returning an object makes it the result, a plain Context of the broker.
		ContextFactory: {
			value: function RealBrokerContext(_view: ServiceBroker, endpoint: unknown) {
				return new Factory(broker, endpoint);
			},
		},
	});
}

/** What the middleware adds to the broker it is given (its `sendMethodName` and `adapterPropertyName`). */
const PUBLISHED = ["sendToChannel", "channelAdapter"] as const;
