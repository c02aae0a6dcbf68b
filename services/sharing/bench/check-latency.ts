/**
 * `sharing.check` latency, cached and uncached, and the cache hit ratio under a realistic mix.
 *
 *   npx tsx --conditions=source services/sharing/bench/check-latency.ts             (embedded: PGlite, memory cacher)
 *   DATABASE_URL=postgres://… CACHER=redis://… npx tsx --conditions=source services/sharing/bench/check-latency.ts
 *
 * With DATABASE_URL the script creates and drops its own database; with CACHER it uses its own key
 * prefix (a fresh NAMESPACE). Figures are in-process broker calls (no gateway, no transporter).
 */
import { randomUUID } from "node:crypto";
import { type CheckParams, PROFILE_SECTIONS, type ProfileSection } from "@portal/contracts";
import { loadConfig, migrate, type PortalConfig, settleTallies } from "@portal/platform";
import { knex } from "knex";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../../moleculer.config";
import { migrations } from "../migrations";
import { bumpOwnerVersion, insertGrant } from "../src/grants.repo";
import SharingService from "../src/sharing.service";

const OWNERS = 200;
const GRANTEES_PER_OWNER = 5;
const SAMPLES = 4_000;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const summary = (ms: number[]) => {
	const sorted = [...ms].sort((a, b) => a - b);
	return { p50: percentile(sorted, 50).toFixed(3), p99: percentile(sorted, 99).toFixed(3), n: sorted.length };
};

async function timed(broker: ServiceBroker, params: CheckParams): Promise<number> {
	const start = process.hrtime.bigint();
	await broker.call("sharing.check", params);
	return Number(process.hrtime.bigint() - start) / 1e6;
}

async function start(config: PortalConfig, withCacher: boolean): Promise<ServiceBroker> {
	const options = brokerOptions(config);
	const broker = new ServiceBroker({ ...options, cacher: withCacher ? options.cacher : undefined, metrics: { enabled: true } });
	broker.createService(SharingService);
	await broker.start();
	return broker;
}

async function main(): Promise<void> {
	const namespace = `bench${randomUUID().slice(0, 8)}`;
	const adminUrl = process.env.DATABASE_URL;
	let databaseUrl: string | undefined;
	if (adminUrl) {
		const admin = knex({ client: "pg", connection: adminUrl });
		await admin.raw("create database ??", [`portal_${namespace}`]);
		await admin.destroy();
		const url = new URL(adminUrl);
		url.pathname = `/portal_${namespace}`;
		databaseUrl = url.toString();
	}
	const config = loadConfig({
		NODE_ENV: "test",
		LOG_LEVEL: "warn",
		NAMESPACE: namespace,
		DATA_DIR: "memory://",
		...(databaseUrl ? { DATABASE_URL: databaseUrl, MIGRATE_ON_START: "true" } : {}),
		...(process.env.CACHER ? { CACHER: process.env.CACHER } : {}),
	});

	const cached = await start(config, true);
	const db = (cached.getLocalService("sharing") as unknown as { db: import("knex").Knex }).db;
	await migrate(db, "sharing", migrations);

	// Owners share with a few people each: a whole-profile viewer, section editors, one expiring grant.
	const pairs: { ownerId: string; actorId: string }[] = [];
	await db.transaction(async (trx) => {
		for (let o = 0; o < OWNERS; o++) {
			const ownerId = randomUUID();
			for (let g = 0; g < GRANTEES_PER_OWNER; g++) {
				const actorId = randomUUID();
				await insertGrant(trx, {
					ownerId,
					granteeAccountId: actorId,
					role: g % 2 ? "editor" : "viewer",
					sections: g % 3 ? [PROFILE_SECTIONS[g % PROFILE_SECTIONS.length] as ProfileSection] : null,
					expiresAt: g === 4 ? new Date(Date.now() + 3_600_000) : null,
				});
				pairs.push({ ownerId, actorId });
			}
			pairs.push({ ownerId, actorId: randomUUID() });
			await bumpOwnerVersion(trx, ownerId);
		}
	});
	const pick = <T>(list: readonly T[], skew = 1): T => list[Math.floor(Math.random() ** skew * list.length)] as T;
	const request = (skew: number): CheckParams => ({
		...pick(pairs, skew),
		section: pick(PROFILE_SECTIONS),
		permission: Math.random() < 0.85 ? "view" : "edit",
	});

	// Uncached: every key asked once (a miss: database read, cache write, version re-read).
	const misses: number[] = [];
	const seen = new Set<string>();
	while (misses.length < SAMPLES) {
		const p = request(1);
		const key = `${p.ownerId}:${p.actorId}:${p.section}:${p.permission}`;
		if (seen.has(key)) continue;
		seen.add(key);
		misses.push(await timed(cached, p));
	}
	// Cached: the same keys again.
	const hits: number[] = [];
	for (const key of [...seen].slice(0, SAMPLES)) {
		const [ownerId, actorId, section, permission] = key.split(":") as [string, string, ProfileSection, "view" | "edit"];
		hits.push(await timed(cached, { ownerId, actorId, section, permission }));
	}

	// Realistic mix on a cold cache: popular owners are viewed more often (skewed); a sharing change every 200 views.
	await cached.cacher?.clean("sharing.check:**");
	const metric = (name: string) => {
		settleTallies(cached);
		return (cached.metrics.getMetric(name)?.get() as { value?: number } | null)?.value ?? 0;
	};
	const gets0 = metric("moleculer.cacher.get.total");
	const found0 = metric("moleculer.cacher.found.total");
	const sharing = cached.getLocalService("sharing") as unknown as { forgetDecisions(ownerId: string): Promise<void> };
	const mixed: number[] = [];
	for (let i = 0; i < SAMPLES; i++) {
		if (i % 200 === 199) {
			const { ownerId } = pick(pairs, 3);
			await db.transaction((trx) => bumpOwnerVersion(trx, ownerId));
			await sharing.forgetDecisions(ownerId);
			continue;
		}
		// A page view: one grantee reads one owner's profile, one check per section; sometimes an edit.
		const pair = pick(pairs, 3);
		if (Math.random() < 0.9)
			for (const section of PROFILE_SECTIONS) mixed.push(await timed(cached, { ...pair, section, permission: "view" }));
		else mixed.push(await timed(cached, { ...pair, section: pick(PROFILE_SECTIONS), permission: "edit" }));
	}
	const hitRatio = (metric("moleculer.cacher.found.total") - found0) / Math.max(1, metric("moleculer.cacher.get.total") - gets0);
	await cached.stop();

	// No cacher at all: the database answer alone, as a baseline.
	const bare = await start(config, false);
	const baseline: number[] = [];
	for (let i = 0; i < SAMPLES; i++) baseline.push(await timed(bare, request(1)));
	await bare.stop();

	const figures = {
		mode: `${databaseUrl ? "Postgres" : "PGlite"} + ${config.cacher ? "Redis" : "memory"} cacher`,
		"no cacher (database only), ms": summary(baseline),
		"uncached (miss: database + cache write), ms": summary(misses),
		"cached (hit), ms": summary(hits),
		"realistic mix (page views of skewed owners, 1 write per 200 views), ms": summary(mixed),
		"cache hit ratio in the mix": hitRatio.toFixed(3),
	};
	process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);

	if (databaseUrl && adminUrl) {
		const admin = knex({ client: "pg", connection: adminUrl });
		await admin.raw("drop database if exists ?? with (force)", [`portal_${namespace}`]);
		await admin.destroy();
	}
}

main().catch((err) => {
	process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
	process.exit(1);
});
