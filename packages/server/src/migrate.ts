import { ConfigError, loadConfig, migrate, openDatabase } from "@portal/platform";
import { migrationCatalog } from "./catalog";

/** Runs every service's migrations (the Kubernetes migration Job, and `npm run migrate`). */
async function main(): Promise<void> {
	const config = loadConfig();
	const db = openDatabase(config);
	try {
		for (const { schema, migrations } of migrationCatalog) {
			const applied = await migrate(db, schema, migrations);
			process.stdout.write(`${schema}: ${applied.length === 0 ? "up to date" : `applied ${applied.join(", ")}`}\n`);
		}
	} finally {
		await db.destroy();
	}
}

main().catch((err) => {
	process.stderr.write(
		`${err instanceof ConfigError ? err.message : `Migration failed: ${err instanceof Error ? err.message : String(err)}`}\n`,
	);
	process.exit(1);
});
