import { Channels, type PurchaseEvent } from "@portal/contracts";
import { serviceCatalog } from "@portal/server";
import { type Knex, knex } from "knex";
import { connect, JSONCodec, type NatsConnection } from "nats";
import { describeInfra } from "../support/infra";
import { activatedAccount, eventually, purchaseEvent, startTestPortal, type TestPortal } from "../support/portal";
import { type FaultServer, faultInfra, mailsPerAddress, natsServer, postgresServer } from "./servers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * R30 with the message bus gone: the gateway and the services run as two brokers on a private
 * NATS, which is killed and restarted under load. Requests during the outage get a fast 503
 * problem+json; the brokers reconnect on their own; purchase events published before and during
 * the outage (to JetStream, and through the webhook, which goes gateway → identity over NATS)
 * are each processed exactly once: one account, one purchase record, one welcome mail.
 */
describeInfra("fault: NATS killed and restarted", () => {
	let postgres: FaultServer;
	let nats: FaultServer;
	let gateway: TestPortal;
	let backend: TestPortal;
	let db: Knex;
	let publisher: NatsConnection;

	beforeAll(async () => {
		[postgres, nats] = await Promise.all([postgresServer(), natsServer()]);
		const infra = faultInfra({ postgres, nats });
		backend = await startTestPortal({ infra, services: Object.keys(serviceCatalog).filter((name) => name !== "gateway") });
		gateway = await startTestPortal({ infra, services: ["gateway"] });
		db = knex({ client: "pg", connection: postgres.url, pool: { min: 0, max: 2 } });
		publisher = await connect({ servers: new URL(nats.url).host, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
	}, 90_000);

	afterAll(async () => {
		await publisher?.close().catch(() => undefined);
		await db?.destroy();
		await gateway?.stop();
		await backend?.stop();
		await Promise.all([nats?.destroy(), postgres?.destroy()]);
	}, 60_000);

	/** The upstream purchase system: at least once, retrying until JetStream acknowledges (msgID dedupes). */
	async function publishUntilAcked(event: PurchaseEvent): Promise<void> {
		const subject = `${backend.config.namespace}.${Channels.purchaseCompleted}`;
		for (;;) {
			try {
				await publisher.jetstream().publish(subject, JSONCodec().encode(event), { msgID: event.eventId, timeout: 2_000 });
				return;
			} catch {
				await pause(250);
			}
		}
	}

	/** The webhook sender retries until 202, as a well-behaved upstream does on 503. */
	async function postUntilAccepted(event: PurchaseEvent, statuses: number[]): Promise<void> {
		for (;;) {
			const res = await gateway.purchase(event).catch(() => ({ status: 0 }));
			statuses.push(res.status);
			if (res.status === 202) return;
			await pause(250);
		}
	}

	it("R30: NATS down mid-load: fast 503s, brokers reconnect, events before and during the outage processed exactly once", async () => {
		const ann = await activatedAccount(gateway, "nats-fault-ann@example.com");
		const tag = gateway.config.namespace;
		const events = Array.from({ length: 40 }, (_, i) => purchaseEvent({ email: `nats-${tag}-${i}@example.com`, product: "RB9" }));
		const webhookStatuses: number[] = [];
		const send = (event: PurchaseEvent, i: number) => (i % 4 === 0 ? postUntilAccepted(event, webhookStatuses) : publishUntilAcked(event));

		// Before: half the events, a few sent by both routes (same eventId).
		const before = events.slice(0, 20);
		await Promise.all([...before.map(send), ...before.slice(0, 5).map((e) => postUntilAccepted(e, webhookStatuses))]);

		// Under a steady stream of reads, NATS is killed.
		const reads: { status: number; ms: number; type: string | null; code?: string }[] = [];
		let reading = true;
		const reader = (async () => {
			while (reading) {
				const started = Date.now();
				const res = await gateway.request("GET", "/api/v1/me", { headers: { Authorization: `Bearer ${ann.token}` } });
				reads.push({
					status: res.status,
					ms: Date.now() - started,
					type: res.headers.get("content-type"),
					code: `${res.body?.code} ${res.body?.detail}`,
				});
				await pause(50);
			}
		})();
		await pause(1_000);
		await nats.kill();
		const during = events.slice(20);
		const sending = Promise.all([...during.map((e, i) => send(e, i + 20)), ...during.slice(0, 5).map((e) => publishUntilAcked(e))]);
		await pause(5_000);
		await nats.start();
		await sending;
		await eventually(
			async () => {
				const res = await gateway.request("GET", "/api/v1/me", { headers: { Authorization: `Bearer ${ann.token}` } });
				return res.status === 200 ? true : undefined;
			},
			"gateway answers again after NATS returns",
			30_000,
		);
		reading = false;
		await reader;

		// Exactly once: one account, one purchase record and one welcome mail per event.
		const emails = events.map((e) => e.customer.email.toLowerCase());
		const counts = await eventually(
			async () => {
				const accounts = await db("identity.accounts").whereIn("email_normalized", emails).count<{ count: string }[]>("* as count");
				const purchases = await db("identity.purchase_events")
					.whereIn(
						"event_id",
						events.map((e) => e.eventId),
					)
					.count<{ count: string }[]>("* as count");
				const mails = [...(await mailsPerAddress(db, emails)).values()];
				const result = {
					accounts: Number(accounts[0]?.count),
					purchases: Number(purchases[0]?.count),
					mailed: mails.length,
					duplicateMails: mails.filter((n) => n > 1).length,
				};
				return result.accounts === events.length && result.mailed === events.length ? result : undefined;
			},
			"every event processed after NATS returned",
			45_000,
		).catch(() => undefined);

		const failed = reads.filter((r) => r.status !== 200);
		process.stdout.write(
			[
				"",
				`NATS killed: ${events.length} events (+10 re-sent), reads ${reads.length} (${failed.length} failed: ${[...new Set(failed.map((r) => `${r.status} ${r.code}`))].join(",") || "-"}, slowest ${Math.max(...reads.map((r) => r.ms))} ms)`,
				`  webhook answers: ${[...new Set(webhookStatuses)].join(",")}; result ${JSON.stringify(counts)}`,
				"",
			].join("\n"),
		);
		expect(counts).toEqual({ accounts: events.length, purchases: events.length, mailed: events.length, duplicateMails: 0 });
		// Requests in the outage failed fast and clearly.
		expect(failed.length).toBeGreaterThan(0);
		for (const r of failed) {
			expect(r.status).toBe(503);
			expect(r.type).toContain("application/problem+json");
		}
		expect(Math.max(...reads.map((r) => r.ms))).toBeLessThan(gateway.broker.options.requestTimeout ?? 10_000);
		expect(webhookStatuses.filter((s) => s !== 202 && s !== 503)).toEqual([]);
	}, 150_000);
});
