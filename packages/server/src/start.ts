import { ConfigError, isMailCaptured, loadConfig, type PortalConfig, startHealthServer, usesDevelopmentSecrets } from "@portal/platform";
import { ServiceBroker } from "moleculer";
import { brokerOptions, selectServices } from "../../../moleculer.config";
import { serviceCatalog } from "./catalog";

/** Starts a broker with the services `SERVICES` names (all by default) and stops it cleanly on a signal. */
export async function startPortal(config: PortalConfig): Promise<ServiceBroker> {
	const broker = new ServiceBroker(brokerOptions(config));
	for (const load of selectServices(config, serviceCatalog)) broker.createService(load());
	// Before the broker starts, so liveness answers during a slow start; it closes when the broker stops.
	const health = config.healthPort === null ? null : await startHealthServer(broker, config);
	try {
		await broker.start();
	} catch (err) {
		health?.close();
		throw err;
	}
	return broker;
}

function explain(config: PortalConfig, broker: ServiceBroker): string {
	const runsGateway = broker.getLocalService("gateway") !== undefined;
	const lines = [
		`OMTI Customer Portal: ${broker.services
			.map((s) => s.name)
			.filter((name) => !name.startsWith("$"))
			.join(", ")} on node ${broker.nodeID}`,
	];
	if (runsGateway) lines.push(`  Portal:   ${config.publicUrl}/`, `  Health:   ${config.publicUrl}/healthz`);
	if (config.healthPort !== null) lines.push(`  Probes:   http://${config.host}:${config.healthPort}/livez, /readyz, /metrics`);
	if (runsGateway && isMailCaptured(config)) lines.push(`  Mailbox:  ${config.publicUrl}/api/v1/dev/mailbox  (mail is captured, not sent)`);
	if (usesDevelopmentSecrets(config))
		lines.push("  Secrets:  development values in use (set PURCHASE_WEBHOOK_SECRET and SESSION_SECRET for real use)");
	lines.push(`  Database: ${config.databaseUrl ? "Postgres (DATABASE_URL)" : `embedded PGlite in ${config.dataDir}`}`);
	return lines.join("\n");
}

async function main(): Promise<void> {
	let config: PortalConfig;
	try {
		config = loadConfig();
	} catch (err) {
		if (err instanceof ConfigError) {
			process.stderr.write(`${err.message}\n`);
			process.exit(1);
		}
		throw err;
	}
	const broker = await startPortal(config);
	process.stdout.write(`${explain(config, broker)}\n`);
	// SIGTERM and SIGINT: the broker's own handlers stop it (in-flight work drains, tracking) and exit 0.
	// A second handler here would stop it a second time alongside.
}

if (require.main === module) {
	main().catch((err) => {
		process.stderr.write(`Start failed: ${err instanceof Error ? err.message : String(err)}\n`);
		process.exit(1);
	});
}
