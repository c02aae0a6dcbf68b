import type { ServiceBroker, ServiceSchema } from "moleculer";
import { portalConfig } from "./broker-config";
import { databaseStarted, isTransientDatabaseError, type Knex, type Migration, migrate, openDatabase } from "./database";
import { Unavailable } from "./errors";
import { defineMixin } from "./schema";

/**
 * One knex per broker, shared by the broker's services (PGlite allows one connection per data
 * directory) and closed when the last of them stops. Its services migrate one after another: each
 * migration holds PGlite's one connection in a transaction, and a service queued behind the others
 * would otherwise spend knex's acquire timeout waiting (a start on a busy machine then failed).
 */
const pools = new WeakMap<ServiceBroker, { db: Knex; users: number; migrations: Promise<unknown> }>();

function acquire(broker: ServiceBroker): Knex {
	let pool = pools.get(broker);
	if (!pool) {
		const db = openDatabase(portalConfig(broker));
		pool = { db, users: 0, migrations: databaseStarted(db) };
		pools.set(broker, pool);
	}
	pool.users += 1;
	return pool.db;
}

/** Runs one service's migrations after those of the broker's other services. */
function migrateInTurn(broker: ServiceBroker, run: () => Promise<unknown>): Promise<unknown> {
	const pool = pools.get(broker) as { migrations: Promise<unknown> };
	const turn = pool.migrations.then(run);
	pool.migrations = turn.catch(() => undefined);
	return turn;
}

async function release(broker: ServiceBroker): Promise<void> {
	const pool = pools.get(broker);
	if (!pool) return;
	pool.users -= 1;
	if (pool.users === 0) {
		pools.delete(broker);
		await pool.db.destroy();
	}
}

export interface DatabaseOptions {
	/** The Postgres schema this service owns; no other service reads it. */
	schema: string;
	migrations: readonly Migration[];
}

export interface DatabaseThis {
	db: Knex;
	/** Settles once this service's migrations ran (or were left to the migration job). */
	dbReady: Promise<void>;
	markDbReady: () => void;
}

/** Gives a service `this.db`, its migrations (run at start in embedded mode) and a `health` action. */
export function Database(opts: DatabaseOptions): Partial<ServiceSchema> {
	return defineMixin<DatabaseThis>({
		metadata: { schema: opts.schema, migrations: opts.migrations },
		actions: {
			health: {
				async handler(): Promise<{ database: "up" }> {
					try {
						await this.db.raw("select 1");
						return { database: "up" };
					} catch {
						throw new Unavailable("The database is not answering.", "DATABASE_UNAVAILABLE");
					}
				},
			},
		},
		hooks: {
			error: {
				// A lost or refusing database is "try again" (503), not an internal error (500).
				"*"(_ctx: unknown, err: unknown) {
					if (isTransientDatabaseError(err))
						throw new Unavailable("The database is not answering. Please try again.", "DATABASE_UNAVAILABLE");
					throw err;
				},
			},
		},
		created() {
			this.db = acquire(this.broker);
			this.dbReady = new Promise((resolve) => {
				this.markDbReady = resolve;
			});
		},
		async started() {
			if (portalConfig(this.broker).migrateOnStart) await migrateInTurn(this.broker, () => migrate(this.db, opts.schema, opts.migrations));
			this.markDbReady();
		},
		async stopped() {
			await release(this.broker);
		},
	});
}

/** The SQL for the outbox and the processed-message set that every durable producer/consumer owns. */
export function messagingTables(schema: string): string {
	return `
		create table ${schema}.outbox (
			id uuid primary key,
			channel text not null,
			payload jsonb not null,
			created_at timestamptz not null default now()
		);
		create table ${schema}.processed_messages (
			message_id text primary key,
			processed_at timestamptz not null default now()
		);`;
}
