import { ConfigError, loadConfig, migrate, openDatabase, type PortalConfig } from "@portal/platform";
import { migrationCatalog } from "./catalog";

/** Runs every service's migrations: the Kubernetes migration Job, `npm run migrate`, and test set-up. */
export async function migrateAll(config: PortalConfig, log: (line: string) => void = () => undefined): Promise<void> {
	const db = openDatabase(config);
	try {
		for (const { schema, migrations } of migrationCatalog) {
			const applied = await migrate(db, schema, migrations());
			log(`${schema}: ${applied.length === 0 ? "up to date" : `applied ${applied.join(", ")}`}`);
		}
	} finally {
		await db.destroy();
	}
}

if (require.main === module) {
	migrateAll(loadConfig(), (line) => process.stdout.write(`${line}\n`)).catch((err) => {
		process.stderr.write(
			`${err instanceof ConfigError ? err.message : `Migration failed: ${err instanceof Error ? err.message : String(err)}`}\n`,
		);
		process.exit(1);
	});
}
