import { parseArgs } from "node:util";
import { STAFF_ROLES, type StaffRole } from "@portal/contracts";
import { ConfigError, loadConfig, type PortalConfig } from "@portal/platform";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../../moleculer.config";
import { serviceCatalog } from "./catalog";
import { startPortal } from "./start";

/**
 * `npm run staff -- create --email ann@omti.example --role compliance` (R7): the only way a staff
 * account comes to be. Prints the set-password link; the person chooses a password through it, like
 * a customer's welcome link. The creation is on the new account's audit trail.
 */
const USAGE = `usage: npm run staff -- create --email <address> --role <${STAFF_ROLES.join("|")}>`;

export interface StaffCreated {
	accountId: string;
	username: string;
	setPasswordUrl: string;
	expiresAt: string;
}

/** The command line, checked before any broker starts. */
export function parseStaffArgs(argv: string[]): { email: string; role: StaffRole } {
	const { positionals, values } = parseArgs({
		args: argv,
		allowPositionals: true,
		options: { email: { type: "string" }, role: { type: "string" } },
	});
	if (positionals[0] !== "create" || !values.email || !values.role) throw new Error(USAGE);
	if (!STAFF_ROLES.includes(values.role as StaffRole)) throw new Error(`unknown role '${values.role}'\n${USAGE}`);
	return { email: values.email, role: values.role as StaffRole };
}

/** Asks identity (local or over the transporter) to create the account; returns what to print. */
export async function runStaffCommand(broker: ServiceBroker, argv: string[]): Promise<string> {
	const values = parseStaffArgs(argv);
	const created = await broker.call<StaffCreated, { email: string; role: StaffRole }>("identity.createStaff", values);
	return [
		`Staff account ${created.username} (${values.role}) created for ${values.email}.`,
		`Send this set-password link to that person only (it works once, until ${created.expiresAt}):`,
		created.setPasswordUrl,
	].join("\n");
}

/**
 * With a transporter the command joins the running cluster and asks its identity service; without
 * one (embedded mode, portal stopped) it runs the services itself, so that the audit message reaches
 * the activity log before it exits.
 */
async function withBroker<T>(config: PortalConfig, work: (broker: ServiceBroker) => Promise<T>): Promise<T> {
	let broker: ServiceBroker;
	if (config.transporter) {
		broker = new ServiceBroker({ ...brokerOptions(config), logger: false });
		await broker.start();
		await broker.waitForServices(["identity"], 15_000);
	} else {
		broker = await startPortal({ ...config, services: Object.keys(serviceCatalog).filter((name) => name !== "gateway") });
	}
	try {
		return await work(broker);
	} finally {
		// The outbox relays within a second; give it that before stopping.
		if (!config.transporter) await new Promise((resolve) => setTimeout(resolve, 1_500));
		await broker.stop();
	}
}

async function main(): Promise<void> {
	parseStaffArgs(process.argv.slice(2));
	const config = loadConfig();
	const output = await withBroker(config, (broker) => runStaffCommand(broker, process.argv.slice(2)));
	process.stdout.write(`${output}\n`);
}

if (require.main === module) {
	main().catch((err) => {
		process.stderr.write(`${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}\n`);
		process.exit(1);
	});
}
