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
