// Run by broker-stop.spec.ts in a process of its own: starts and stops one broker, as the staff command
// does, then prints what the process still has scheduled.
import { loadConfig } from "@portal/platform";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../moleculer.config";

async function main(): Promise<void> {
	const options = brokerOptions(loadConfig(process.env));
	// Moleculer debounces only with a transporter: NATS under test:infra, its in-memory Fake otherwise.
	const broker = new ServiceBroker({ ...options, transporter: options.transporter ?? "Fake" });
	broker.createService({ name: "probe", actions: { ping: () => "pong" } });
	await broker.start();
	const answer = await broker.call("probe.ping");
	await broker.stop();
	process.stdout.write(JSON.stringify({ answer, pending: process.getActiveResourcesInfo() }));
}

void main();
