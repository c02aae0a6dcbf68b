import { MetricReporters } from "moleculer";

type Registry = { broker: { namespace: string; nodeID: string } };

/**
 * Moleculer's Prometheus reporter without its own HTTP server: the gateway serves the text at
 * `/metrics` and every other process on its health port, so no extra port is opened per process.
 */
export class PrometheusText extends (MetricReporters.Prometheus as unknown as new (
	opts?: object,
) => { init(registry: Registry): void; generatePrometheusResponse(): string; defaultLabels: unknown; registry: Registry }) {
	override init(registry: Registry): void {
		(MetricReporters.Base as unknown as { prototype: { init(this: unknown, r: Registry): void } }).prototype.init.call(this, registry);
		this.defaultLabels = { namespace: registry.broker.namespace, nodeID: registry.broker.nodeID };
	}

	stop(): Promise<void> {
		return Promise.resolve();
	}

	/** The Prometheus exposition text of every metric of this broker. */
	render(): string {
		settleTallies(this.registry.broker);
		return this.generatePrometheusResponse();
	}
}

const beforeScrape = new WeakMap<object, (() => void)[]>();

/** Runs `settle` before each scrape: for numbers kept cheaply in memory and written to the registry only when read. */
export function onScrape(broker: object, settle: () => void): void {
	beforeScrape.set(broker, [...(beforeScrape.get(broker) ?? []), settle]);
}

/** Writes the tallies kept in memory to the broker's registry (a scrape does it first). */
export function settleTallies(broker: object): void {
	for (const settle of beforeScrape.get(broker) ?? []) settle();
}
