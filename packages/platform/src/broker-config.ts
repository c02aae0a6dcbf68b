import type { ServiceBroker } from "moleculer";
import type { PortalConfig } from "./config";

/** The validated config the process started with, carried on the broker options. */
export function portalConfig(broker: ServiceBroker): PortalConfig {
	const config = broker.options.portal;
	if (!config) throw new Error("The broker was created without `portal` config (use brokerOptions()).");
	return config;
}
