import { ConfigError, loadConfig, openDatabase } from "@portal/platform";
import { verifyAuditChains } from "./audit";

/**
 * `npm run audit:verify`: walks every account's audit chain in the database the environment names
 * and reports the first broken link of each. Exit 0 when every chain holds, 1 on tampering, 2 when
 * it could not check at all.
 */
async function main(): Promise<number> {
	const config = loadConfig();
	const db = openDatabase(config);
	try {
		const report = await verifyAuditChains(db);
		for (const link of report.broken) {
			process.stdout.write(`BROKEN account ${link.accountId} at entry ${link.seq}: ${link.problem}\n`);
		}
		process.stdout.write(
			`${report.broken.length === 0 ? "OK" : "TAMPERED"}: ${report.chains} chain(s), ${report.entries} entr${report.entries === 1 ? "y" : "ies"}, ${report.broken.length} broken\n`,
		);
		return report.broken.length === 0 ? 0 : 1;
	} finally {
		await db.destroy();
	}
}

main().then(
	(code) => process.exit(code),
	(err) => {
		process.stderr.write(`audit:verify could not run: ${err instanceof ConfigError ? err.message : String(err)}\n`);
		process.exit(2);
	},
);
