import type { ServiceBroker } from "moleculer";

type Cacher = NonNullable<ServiceBroker["cacher"]>;

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
