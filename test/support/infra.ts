import { randomBytes } from "node:crypto";
import Redis from "ioredis";
import { knex } from "knex";
import { connect } from "nats";

/**
 * Test isolation (README: tests isolate themselves). `npm test` runs on embedded defaults;
 * `npm run test:infra` sets TEST_INFRA=1 and the shared servers' addresses, and every test file
 * then gets its own database (created and dropped), namespace, NATS streams and Redis key prefix.
 */
export const infraMode = process.env.TEST_INFRA === "1";

/** `describe` under `npm run test:infra`, skipped on embedded defaults (no Postgres/Redis/NATS there). */
export function describeInfra(name: string, suite: () => void): void {
	(infraMode ? describe : describe.skip)(name, suite);
}

export const uniqueNamespace = (): string => `t${randomBytes(4).toString("hex")}`;

export interface TestInfra {
	namespace: string;
	env: Record<string, string>;
	cleanup(): Promise<void>;
}

const adminUrl = () => process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const redisUrl = () => process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const natsUrl = () => process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";

export async function createTestInfra(namespace = uniqueNamespace()): Promise<TestInfra> {
	if (!infraMode) {
		return { namespace, env: { NAMESPACE: namespace, DATA_DIR: "memory://" }, cleanup: async () => undefined };
	}
	const database = `portal_${namespace}`;
	const admin = knex({ client: "pg", connection: adminUrl() });
	await admin.raw("create database ??", [database]);
	await admin.destroy();
	const databaseUrl = new URL(adminUrl());
	databaseUrl.pathname = `/${database}`;
	return {
		namespace,
		env: {
			NAMESPACE: namespace,
			DATABASE_URL: databaseUrl.toString(),
			CACHER: redisUrl(),
			TRANSPORTER: natsUrl(),
			CHANNELS: natsUrl(),
		},
		cleanup: () => dropTestInfra(namespace, database),
	};
}

async function dropTestInfra(namespace: string, database: string): Promise<void> {
	const admin = knex({ client: "pg", connection: adminUrl() });
	try {
		await admin.raw("drop database if exists ?? with (force)", [database]);
	} finally {
		await admin.destroy();
	}
	// Only this run's keys: never FLUSH the shared server.
	const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
	try {
		await redis.connect();
		let cursor = "0";
		do {
			const [next, keys] = await redis.scan(cursor, "MATCH", `portal-${namespace}*`, "COUNT", 500);
			cursor = next;
			if (keys.length > 0) await redis.del(...keys);
		} while (cursor !== "0");
	} finally {
		redis.disconnect();
	}
	const nc = await connect({ servers: new URL(natsUrl()).host });
	try {
		const jsm = await nc.jetstreamManager();
		for await (const stream of jsm.streams.list()) {
			if (stream.config.subjects?.some((subject) => subject.startsWith(`${namespace}.`))) await jsm.streams.delete(stream.config.name);
		}
	} finally {
		await nc.close();
	}
}
