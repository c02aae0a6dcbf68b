import { Channels } from "@portal/contracts";
import { serviceCatalog } from "@portal/server";
import { type Knex, knex } from "knex";
import { connect, JSONCodec } from "nats";
import { describeInfra } from "../support/infra";
import { eventually, freePort, purchaseEvent, startTestPortal, type TestPortal } from "../support/portal";
import { type Replica, startReplica, stopAll, untilReady } from "./processes";
import { type FaultServer, faultInfra, mailsPerAddress, natsServer, postgresServer } from "./servers";

/** Enough that the kill lands mid-burst: identity records purchases in groups of up to 128. */
const EVENTS = 1_500;
const PUBLISH_CHUNK = 100;
const PUBLISH_PAUSE_MS = 100;

/**
 * R3, R30: identity runs in its own process and is killed with SIGKILL in the middle of a burst of
 * purchase events. A new identity process takes over; every event is processed exactly once: one
 * account and one purchase record per event, and one welcome mail per account (the outbox row
 * committed with the account is relayed by whichever replica runs next).
 */
describeInfra("fault: identity process killed while handling purchase events", () => {
	let postgres: FaultServer;
	let nats: FaultServer;
	let portal: TestPortal;
	let db: Knex;
	let env: Record<string, string>;
	const replicas: Replica[] = [];

	beforeAll(async () => {
		[postgres, nats] = await Promise.all([postgresServer(), natsServer()]);
		const infra = faultInfra({ postgres, nats });
		// Everything but identity in this process (gateway, communications capturing mail, ...).
		portal = await startTestPortal({ infra, services: Object.keys(serviceCatalog).filter((name) => name !== "identity") });
		env = { NODE_ENV: "test", LOG_LEVEL: "warn", HOST: "127.0.0.1", MIGRATE_ON_START: "false", SERVICES: "identity", ...infra.env };
		db = knex({ client: "pg", connection: postgres.url, pool: { min: 0, max: 2 } });
	}, 90_000);

	afterAll(async () => {
		await stopAll(replicas);
		await db?.destroy();
		await portal?.stop();
		await Promise.all([nats?.destroy(), postgres?.destroy()]);
	}, 60_000);

	async function identityProcess(name: string): Promise<Replica> {
		const replica = await startReplica(name, { ...env, PORT: String(await freePort()) });
		replicas.push(replica);
		await untilReady(replica, 80_000);
		return replica;
	}

	it("R3, R30: identity killed -9 mid-burst: every purchase event processed exactly once, one welcome mail per account", async () => {
		const first = await identityProcess("identity-1");
		const tag = portal.config.namespace;
		const events = Array.from({ length: EVENTS }, (_, i) => purchaseEvent({ email: `crash-${tag}-${i}@example.com`, product: "RB9" }));
		const emails = events.map((e) => e.customer.email.toLowerCase());
		const count = async () =>
			Number(
				(
					await db("identity.purchase_events")
						.whereIn(
							"event_id",
							events.map((e) => e.eventId),
						)
						.count<{ c: string }[]>("* as c")
				)[0]?.c,
			);

		const nc = await connect({ servers: new URL(nats.url).host });
		const subject = `${tag}.${Channels.purchaseCompleted}`;
		// The burst arrives in paced chunks over ~1.5 s, so identity is still receiving it when it is killed,
		// however slowly this process polls: identity records a few thousand purchases a second, and a burst
		// published at once could be done before the poll below saw it start.
		const publishAll = async () => {
			const js = nc.jetstream();
			const codec = JSONCodec();
			for (let i = 0; i < events.length; i += PUBLISH_CHUNK) {
				const chunk = events.slice(i, i + PUBLISH_CHUNK);
				await Promise.all(chunk.map((event) => js.publish(subject, codec.encode(event), { msgID: event.eventId })));
				await new Promise((resolve) => setTimeout(resolve, PUBLISH_PAUSE_MS));
			}
		};
		// Killed while it works through the burst, watched as the burst is published.
		const killOnceStarted = async () => {
			const done = await eventually(
				async () => {
					const n = await count();
					return n >= 10 ? n : undefined;
				},
				"identity to start on the burst",
				30_000,
			);
			first.child.kill("SIGKILL");
			await first.exit;
			return done;
		};
		let atKill: number;
		try {
			// The stream exists once identity's consumer has subscribed; publishing earlier gets "no responders".
			const jsm = await nc.jetstreamManager();
			await eventually(
				async () => ((await jsm.streams.find(subject).catch(() => undefined)) ? true : undefined),
				"the purchase stream",
				30_000,
			);
			[, atKill] = await Promise.all([publishAll(), killOnceStarted()]);
		} finally {
			await nc.close();
		}
		expect(atKill).toBeLessThan(EVENTS);

		await identityProcess("identity-2");
		// Unacknowledged deliveries of the dead consumer come back after ack_wait (30 s).
		const result = await eventually(
			async () => {
				const purchases = await count();
				const accounts = Number((await db("identity.accounts").whereIn("email_normalized", emails).count<{ c: string }[]>("* as c"))[0]?.c);
				const mails = [...(await mailsPerAddress(db, emails)).values()];
				const summary = { purchases, accounts, mailed: mails.length, duplicateMails: mails.filter((n) => n > 1).length };
				return summary.purchases === EVENTS && summary.accounts === EVENTS && summary.mailed === EVENTS ? summary : undefined;
			},
			"every event processed after the crash",
			70_000,
		).catch(async () => ({ purchases: await count(), accounts: -1, mailed: -1, duplicateMails: -1 }));
		process.stdout.write(`\nidentity killed -9 after ${atKill}/${EVENTS} events: ${JSON.stringify(result)}\n`);
		expect(result).toEqual({ purchases: EVENTS, accounts: EVENTS, mailed: EVENTS, duplicateMails: 0 });
	}, 180_000);
});
