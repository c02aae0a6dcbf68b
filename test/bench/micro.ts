import { randomUUID } from "node:crypto";
import { Channels, type CheckParams, PROFILE_SECTIONS } from "@portal/contracts";
import { type Knex, loadConfig, migrate, type PortalConfig } from "@portal/platform";
import Redis from "ioredis";
import { knex } from "knex";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { migrations as activityMigrations } from "../../services/activity-log/migrations";
import ActivityLogService from "../../services/activity-log/src/activity-log.service";
import { insertUsageBatch } from "../../services/activity-log/src/usage.repo";
import { describeAll, inventoryStream } from "../../services/compliance/src/inventory";
import { migrations as sharingMigrations } from "../../services/sharing/migrations";
import { bumpOwnerVersion, insertGrant } from "../../services/sharing/src/grants.repo";
import SharingService from "../../services/sharing/src/sharing.service";
import { percentile } from "./harness";

/**
 * In-process micro-benchmarks, run by figures.ts in a child process pinned to the system core, so the
 * portal's path and its raw baseline share one core and one event loop: `micro.ts check|ingest`.
 * Env: the infrastructure of a fresh test namespace (DATABASE_URL, CACHER, NAMESPACE).
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

/** `concurrency` callers in a loop for `seconds`; latency per call and calls per second. */
async function drive(concurrency: number, seconds: number, call: (i: number) => Promise<unknown>) {
	const latencies: number[] = [];
	const deadline = Date.now() + seconds * 1000;
	let i = 0;
	const worker = async () => {
		while (Date.now() < deadline) {
			const start = process.hrtime.bigint();
			await call(i++);
			latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
		}
	};
	const started = Date.now();
	await Promise.all(Array.from({ length: concurrency }, worker));
	return { perSecond: latencies.length / ((Date.now() - started) / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function broker(config: PortalConfig, schema: object, withCacher = true): Promise<ServiceBroker> {
	const options = brokerOptions(config);
	const b = new ServiceBroker({ ...options, cacher: withCacher ? options.cacher : undefined });
	b.createService(schema as never);
	await b.start();
	return b;
}

async function check(config: PortalConfig) {
	const cached = await broker(config, SharingService);
	const db = (cached.getLocalService("sharing") as unknown as { db: Knex }).db;
	await migrate(db, "sharing", sharingMigrations);
	const pairs: CheckParams[] = [];
	await db.transaction(async (trx) => {
		for (let o = 0; o < 200; o++) {
			const ownerId = randomUUID();
			const actorId = randomUUID();
			await insertGrant(trx, { ownerId, granteeAccountId: actorId, role: "viewer", sections: null, expiresAt: null });
			await bumpOwnerVersion(trx, ownerId);
			for (const section of PROFILE_SECTIONS) pairs.push({ ownerId, actorId, section, permission: "view" });
		}
	});
	const pick = (i: number) => pairs[i % pairs.length] as CheckParams;
	for (const p of pairs) await cached.call("sharing.check", p); // warm: every key cached

	const cachedLatency = await drive(1, SECONDS / 2, (i) => cached.call("sharing.check", pick(i)));
	const cachedThroughput = await drive(32, SECONDS / 2, (i) => cached.call("sharing.check", pick(i)));
	const redis = new Redis(config.cacher ?? "redis://127.0.0.1:6379");
	await redis.set(`${config.namespace}-bench-key`, JSON.stringify({ allowed: true }));
	const redisLatency = await drive(1, SECONDS / 2, () => redis.get(`${config.namespace}-bench-key`));
	const redisThroughput = await drive(32, SECONDS / 2, () => redis.get(`${config.namespace}-bench-key`));
	await redis.del(`${config.namespace}-bench-key`);
	redis.disconnect();
	await cached.stop();

	const bare = await broker(config, SharingService, false);
	const bareDb = (bare.getLocalService("sharing") as unknown as { db: Knex }).db;
	const uncachedLatency = await drive(1, SECONDS / 2, (i) => bare.call("sharing.check", pick(i)));
	const uncachedThroughput = await drive(16, SECONDS / 2, (i) => bare.call("sharing.check", pick(i)));
	const ids: string[] = (await bareDb("sharing.grants").select("id").limit(200)).map((r: { id: string }) => r.id);
	const pkLatency = await drive(1, SECONDS / 2, (i) =>
		bareDb("sharing.grants")
			.where({ id: ids[i % ids.length] })
			.first(),
	);
	const pkThroughput = await drive(16, SECONDS / 2, (i) =>
		bareDb("sharing.grants")
			.where({ id: ids[i % ids.length] })
			.first(),
	);
	await bare.stop();
	return { cachedLatency, cachedThroughput, redisLatency, redisThroughput, uncachedLatency, uncachedThroughput, pkLatency, pkThroughput };
}

async function ingest(config: PortalConfig) {
	const b = await broker(config, ActivityLogService);
	const db = (b.getLocalService("activityLog") as unknown as { db: Knex }).db;
	await migrate(db, "activity_log", activityMigrations);
	const count = Number(process.env.INGEST_EVENTS ?? 30_000);
	const accounts = Array.from({ length: 100 }, () => randomUUID());
	const message = (i: number) => ({
		messageId: randomUUID(),
		occurredAt: new Date().toISOString(),
		accountId: accounts[i % accounts.length] as string,
		kind: "link-click" as const,
		at: new Date().toISOString(),
		detail: { linkId: `l${i % 50}`, href: "/products/RB9" },
	});
	const rows = async () => Number((await db("activity_log.usage_records").count({ n: "*" }))[0]?.n ?? 0);

	// The portal's path: durable channel messages → bounded buffer → batched insert + daily counters.
	const started = Date.now();
	for (let i = 0; i < count; i++) {
		await b.sendToChannel(Channels.usageRecorded, message(i));
		if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
	}
	while ((await rows()) < count && Date.now() - started < 120_000) await new Promise((resolve) => setTimeout(resolve, 20));
	const portalSeconds = (Date.now() - started) / 1000;
	const stored = await rows();
	await b.stop();

	// The raw baseline: the same rows by multi-row INSERT of 500, nothing else.
	const raw = knex({ client: "pg", connection: config.databaseUrl ?? "" });
	await raw.raw("create table activity_log.raw_bench (like activity_log.usage_records including all)");
	const rawStarted = Date.now();
	const batch: object[] = [];
	for (let i = 0; i < count; i++) {
		const m = message(i);
		batch.push({ message_id: m.messageId, account_id: m.accountId, kind: m.kind, at: m.at, detail: JSON.stringify(m.detail) });
		if (batch.length === 500 || i === count - 1) await raw("activity_log.raw_bench").insert(batch.splice(0));
	}
	const rawSeconds = (Date.now() - rawStarted) / 1000;
	await raw.raw("drop table activity_log.raw_bench");
	await raw.destroy();
	return { events: count, stored, portalPerSecond: stored / portalSeconds, rawPerSecond: count / rawSeconds };
}

/** The CCPA inventory of an account with 100 000 activity rows, assembled from the personal-data contracts. */
async function inventory(config: PortalConfig) {
	const b = await broker(config, ActivityLogService);
	const db = (b.getLocalService("activityLog") as unknown as { db: Knex }).db;
	await migrate(db, "activity_log", activityMigrations);
	const accountId = randomUUID();
	const rows = Number(process.env.INVENTORY_ROWS ?? 100_000);
	for (let i = 0; i < rows; i += 1000) {
		await insertUsageBatch(
			db,
			Array.from({ length: Math.min(1000, rows - i) }, (_, j) => ({
				messageId: randomUUID(),
				accountId,
				kind: (i + j) % 10 === 0 ? ("sign-in" as const) : ("link-click" as const),
				at: new Date(Date.now() - ((i + j) % 80) * 86_400_000),
				detail: { linkId: `l${j % 50}`, href: "/products/RB9", userAgent: "Mozilla/5.0 (bench)" },
			})),
		);
	}
	if (global.gc) global.gc();
	const rssBefore = process.memoryUsage().rss;
	let peak = rssBefore;
	const sampler = setInterval(() => {
		peak = Math.max(peak, process.memoryUsage().rss);
	}, 20);
	const started = Date.now();
	let bytes = 0;
	const header = {
		requestId: "bench",
		accountId,
		receivedAt: new Date().toISOString(),
		residencyBasis: "bench",
		generatedAt: new Date().toISOString(),
	};
	for await (const chunk of inventoryStream(b, "json", header, await describeAll(b))) bytes += Buffer.byteLength(chunk as string);
	const inventoryMs = Date.now() - started;
	clearInterval(sampler);
	const rawStarted = Date.now();
	const all = await db("activity_log.usage_records").where({ account_id: accountId });
	const rawMs = Date.now() - rawStarted;
	await b.stop();
	return { rows, selected: all.length, bytes, inventoryMs, rawMs, rssGrowthMb: (peak - rssBefore) / 1_048_576 };
}

async function main(): Promise<void> {
	const config = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "warn", ...process.env });
	const which = process.argv[2];
	const runs: Record<string, (c: PortalConfig) => Promise<object>> = { check, ingest, inventory };
	const run = runs[which ?? ""];
	if (!run) throw new Error("usage: micro.ts check|ingest|inventory");
	const result = await run(config);
	process.stdout.write(`${JSON.stringify(result)}\n`);
}

main()
	.then(() => process.exit(0))
	.catch((err) => {
		process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
		process.exit(1);
	});
