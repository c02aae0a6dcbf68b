import { Cachers, type ServiceBroker } from "moleculer";
import type { PortalConfig } from "./config";
import { onScrape } from "./metrics";

type Cacher = NonNullable<ServiceBroker["cacher"]>;

/**
 * The broker's cacher: Redis with CACHER, else in memory. Moleculer's cachers time every get, set
 * and delete into a quantile histogram and bump rate counters; on a cached profile read those
 * updates cost more CPU than the request's own code (BENCHMARKS.md). These keep Moleculer's
 * operation counters (`moleculer.cacher.<op>.total`) as tallies written to the registry when it is
 * scraped, like CallMetrics; latency comes from tracing.
 */
export function portalCacher(config: PortalConfig): Cacher {
	const ttl = 300;
	return config.cacher
		? new TalliedRedisCacher({ redis: config.cacher as never, prefix: `portal-${config.namespace || "default"}`, ttl })
		: new TalliedMemoryCacher({ ttl });
}

const CACHER_COUNTERS = ["get", "found", "set", "del", "clean", "expired"].map((op) => `moleculer.cacher.${op}.total`);
const untimed = () => 0;

function registerCounters(cacher: Cacher): void {
	for (const name of CACHER_COUNTERS) cacher.metrics.register({ name, type: "counter", description: "Cache operations" });
}

function tallyMetrics(cacher: Cacher, broker: ServiceBroker): void {
	if (!broker.isMetricsEnabled()) return;
	const tally = new Map<string, number>();
	onScrape(broker, () => {
		for (const [name, count] of tally) broker.metrics.increment(name, undefined, count);
		tally.clear();
	});
	cacher.metrics = { increment: (name: string) => tally.set(name, (tally.get(name) ?? 0) + 1), timer: () => untimed };
}

class TalliedRedisCacher extends Cachers.Redis {
	registerMoleculerMetrics(): void {
		registerCounters(this);
	}

	override init(broker: ServiceBroker): void {
		super.init(broker);
		tallyMetrics(this, broker);
	}
}

class TalliedMemoryCacher extends Cachers.Memory {
	registerMoleculerMetrics(): void {
		registerCounters(this);
	}

	override init(broker: ServiceBroker): void {
		super.init(broker);
		tallyMetrics(this, broker);
	}
}

/**
 * The broker's cacher while it is connected, else undefined. A disconnected Redis client queues
 * commands until it returns, so a caller that awaited one would hang until the request timeout;
 * callers use this to go straight to the database (or fail closed) instead.
 */
export function connectedCacher(broker: ServiceBroker): Cacher | undefined {
	const cacher = broker.cacher as (Cacher & { connected?: boolean | null; client?: { status?: string } }) | undefined;
	if (!cacher || cacher.connected === false) return undefined;
	// The cacher's flag only drops on the client's next error; the client's own status drops with the socket.
	const status = cacher.client?.status;
	return status === undefined || status === "ready" ? cacher : undefined;
}

/**
 * A region of the cache (keys matching `pattern`) that must never serve what a missed clean left
 * behind. A change made while Redis is away cannot clean its entries, and a Redis with persistence
 * comes back holding them (the clean queued in the client is dropped after its retries). So from the
 * moment the connection drops until the region is cleaned after it returns, `cacher()` answers
 * undefined and callers read the database.
 */
export class OutageSafeCache {
	private suspect = false;
	private drops = 0;

	constructor(
		private readonly broker: ServiceBroker,
		pattern: string,
	) {
		const client = (broker.cacher as { client?: { on(event: string, listener: () => void): void } } | undefined)?.client;
		if (!client) return;
		client.on("close", () => {
			this.drops += 1;
			this.suspect = true;
		});
		client.on("ready", () => {
			if (!this.suspect) return;
			const seen = this.drops;
			broker.cacher?.clean(pattern).then(
				() => {
					// Dropped again meanwhile: the next "ready" cleans again.
					if (this.drops === seen) this.suspect = false;
				},
				(err: unknown) =>
					broker.logger.warn({ err: String(err), pattern }, "cache region not cleaned after Redis returned; reads stay on the database"),
			);
		});
	}

	cacher(): Cacher | undefined {
		return this.suspect ? undefined : connectedCacher(this.broker);
	}
}

/**
 * Drops cached entries after a committed write: one key, or every key matching a pattern. While
 * Redis is away the drop waits in its client until Redis returns (readers skip the region meanwhile,
 * see {@link OutageSafeCache}), so the writer answers now; a failure is logged, never thrown, since
 * the write itself has committed.
 */
export async function forgetCached(broker: ServiceBroker, target: { key: string } | { pattern: string }): Promise<void> {
	const what = "key" in target ? target.key : target.pattern;
	try {
		const drop = "key" in target ? broker.cacher?.del(target.key) : broker.cacher?.clean(target.pattern);
		if (connectedCacher(broker)) await drop;
		else void drop?.catch((err: unknown) => broker.logger.warn({ err: String(err), what }, "queued cache drop failed"));
	} catch (err) {
		broker.logger.error({ err: String(err), what }, "could not drop cached entries");
	}
}
