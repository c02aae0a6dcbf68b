import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { Channels, type PurchaseEvent } from "@portal/contracts";
import { hmacSha256, loadConfig, type PortalConfig } from "@portal/platform";
import { connect, JSONCodec } from "nats";

/**
 * `npm run purchase -- --email ann@example.com --product RB9`: publishes a purchase event the way
 * another OMTI system would — on JetStream when CHANNELS is set, else through the signed webhook.
 */
const PRODUCT_NAMES: Record<string, string> = { RB9: "ReporterBase 9", MR8: "MetaRecords 8" };

export function purchaseEvent(args: {
	email: string;
	product: string;
	givenName?: string;
	familyName?: string;
	country?: string;
	region?: string;
}): PurchaseEvent {
	const code = args.product.toUpperCase();
	return {
		eventId: randomUUID(),
		occurredAt: new Date().toISOString(),
		orderId: `SO-${Math.floor(100_000 + Math.random() * 900_000)}`,
		product: { code, name: PRODUCT_NAMES[code] ?? code },
		customer: {
			email: args.email,
			...(args.givenName ? { givenName: args.givenName } : {}),
			...(args.familyName ? { familyName: args.familyName } : {}),
			country: args.country ?? "US",
			...(args.region ? { region: args.region } : {}),
		},
	};
}

export async function publishPurchase(config: PortalConfig, event: PurchaseEvent): Promise<string> {
	if (config.channels) {
		const nc = await connect({ servers: new URL(config.channels).host });
		try {
			const subject = config.namespace ? `${config.namespace}.${Channels.purchaseCompleted}` : Channels.purchaseCompleted;
			const ack = await nc.jetstream().publish(subject, JSONCodec().encode(event), { msgID: event.eventId });
			return `published to JetStream ${ack.stream} #${ack.seq}${ack.duplicate ? " (duplicate)" : ""}`;
		} finally {
			await nc.close();
		}
	}
	const body = JSON.stringify(event);
	const response = await fetch(`${config.publicUrl}/api/v1/hooks/purchases`, {
		method: "POST",
		headers: { "Content-Type": "application/json", "X-OMTI-Signature": `sha256=${hmacSha256(config.purchaseWebhookSecret, body)}` },
		body,
	});
	if (response.status !== 202) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
	return `accepted by ${config.publicUrl}/api/v1/hooks/purchases: ${await response.text()}`;
}

async function main(): Promise<void> {
	const { values } = parseArgs({
		options: {
			email: { type: "string" },
			product: { type: "string", default: "RB9" },
			"given-name": { type: "string" },
			"family-name": { type: "string" },
			country: { type: "string" },
			region: { type: "string" },
		},
	});
	if (!values.email)
		throw new Error("usage: npm run purchase -- --email ann@example.com [--product RB9] [--given-name Ann] [--country US --region CA]");
	const event = purchaseEvent({
		email: values.email,
		product: values.product ?? "RB9",
		givenName: values["given-name"],
		familyName: values["family-name"],
		country: values.country,
		region: values.region,
	});
	process.stdout.write(
		`${await publishPurchase(loadConfig(), event)}\nevent ${event.eventId} for ${event.customer.email} (${event.product.code})\n`,
	);
}

if (require.main === module) {
	main().catch((err) => {
		process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
		process.exit(1);
	});
}
