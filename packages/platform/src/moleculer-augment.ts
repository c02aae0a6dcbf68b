import type { Access } from "./access.middleware";
import type { PortalConfig } from "./config";

/**
 * Typed extensions of Moleculer used across the portal, declared once (STACK trap 3):
 * the `access` property on actions, @moleculer/channels' `channels` schema field and
 * `broker.sendToChannel`, and the validated config on the broker options.
 */
export interface ChannelDefinition {
	group?: string;
	context?: boolean;
	maxInFlight?: number;
	maxRetries?: number;
	deadLettering?: { enabled: boolean; queueName?: string };
	nats?: { streamConfig?: Record<string, unknown>; consumerOptions?: Record<string, unknown> };
	// biome-ignore lint/suspicious/noExplicitAny: handlers receive (ctx, raw) or (payload, raw) by adapter.
	handler: (this: any, ...args: any[]) => Promise<void> | void;
}

declare module "moleculer" {
	interface BrokerOptions {
		portal?: PortalConfig;
	}
	interface ActionSchema {
		/** Who may call this action from outside; undefined means internal only (default deny). */
		access?: Access;
	}
	interface ServiceSchema {
		channels?: Record<string, ChannelDefinition>;
		/** Called with the merged schema before the service is created (settings from config). */
		// biome-ignore lint/suspicious/noExplicitAny: `this` is the service under construction.
		merged?: (this: any, schema: any) => void;
	}
	interface ServiceBroker {
		sendToChannel(channel: string, payload: unknown, opts?: { headers?: Record<string, string>; ctx?: unknown }): Promise<void>;
	}
}
