import { type Knex, knex } from "knex";
import type { PortalConfig } from "./config";
import { memoryPgliteClient } from "./memory-database";

export type { Knex } from "knex";

/** A migration as code: knex gets its list from the service, never from globbing files. */
export interface Migration {
	name: string;
	up(db: Knex): Promise<void>;
	down(db: Knex): Promise<void>;
}

/** Opens knex on Postgres when DATABASE_URL is set, else on PGlite in DATA_DIR (or memory). */
export function openDatabase(config: Pick<PortalConfig, "databaseUrl" | "dataDir">): Knex {
	if (config.databaseUrl) {
		return knex({
			client: "pg",
			connection: config.databaseUrl,
			pool: { min: 0, max: 10 },
			// Fail fast when Postgres is away: callers answer 503 instead of hanging.
			acquireConnectionTimeout: 5_000,
		});
	}
	// Loaded only here: a process on Postgres never needs the embedded database's driver.
	const inMemory = config.dataDir === "memory://";
	return knex({
		// In memory: a fresh empty cluster each time, started from a cached snapshot (see memory-database.ts).
		client: inMemory ? memoryPgliteClient() : (require("knex-pglite") as typeof import("knex-pglite")),
		dialect: "postgres",
		connection: inMemory ? {} : { filename: config.dataDir },
		// PGlite has one connection: using `db` inside a transaction would wait forever, so make it fail
		// soon (but not so soon that a busy two-core CI machine trips it on honest waits).
		acquireConnectionTimeout: 10_000,
	} as Knex.Config);
}

/**
 * Settles once an embedded database has started (initdb or loading its files, seconds of CPU), so
 * that its first query does not spend the short acquire timeout on it; Postgres is there already.
 * Never rejects: a failed start shows on the first query.
 */
export function databaseStarted(db: Knex): Promise<unknown> {
	const client = db.client as { started?: Promise<unknown>; pglite?: { waitReady: Promise<unknown> } };
	return (client.started ?? client.pglite?.waitReady ?? Promise.resolve()).catch(() => undefined);
}

/** Brings one service's schema up to date. Each service owns exactly one Postgres schema. */
export async function migrate(db: Knex, schema: string, migrations: readonly Migration[]): Promise<string[]> {
	await db.raw("create schema if not exists ??", [schema]);
	const [, applied] = (await db.migrate.latest({
		schemaName: schema,
		tableName: "knex_migrations",
		migrationSource: {
			getMigrations: async () => [...migrations],
			getMigrationName: (m: Migration) => m.name,
			getMigration: async (m: Migration) => m,
		},
	})) as [number, string[]];
	return applied;
}

/**
 * Runs a migration's SQL one statement at a time (PGlite's extended protocol takes one per query).
 * Statements end with `;` at the end of a line.
 */
export async function runStatements(db: Knex, sql: string): Promise<void> {
	for (const statement of sql.split(/;\s*$/m)) {
		if (statement.trim()) await db.raw(statement);
	}
}

/** Postgres error codes that mean "try again", not "your request is wrong". */
const TRANSIENT_PG_CODES = new Set(["40001", "40P01", "57P01", "57P02", "57P03", "08000", "08003", "08006", "53300"]);

export function isTransientDatabaseError(err: unknown): boolean {
	const e = err as { code?: string; name?: string; message?: string };
	if (e?.code && TRANSIENT_PG_CODES.has(e.code)) return true;
	if (e?.code === "ECONNREFUSED" || e?.code === "ECONNRESET" || e?.code === "ETIMEDOUT") return true;
	return (
		e?.name === "KnexTimeoutError" ||
		/Connection terminated|connect ECONNREFUSED|connection error and is not queryable|terminating connection/.test(e?.message ?? "")
	);
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
	const e = err as { code?: string; constraint?: string };
	return e?.code === "23505" && (constraint === undefined || e.constraint === constraint);
}
