import { randomUUID } from "node:crypto";
import { Database, type DatabaseThis, loadConfig, messagingTables, Outbox, type OutboxThis, runStatements } from "@portal/platform";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../../moleculer.config";

const INTERVAL_MS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** R3/R30: a relay that fails leaves its rows, and is not retried on every request until the next tick. */
describe("the transactional outbox", () => {
	let broker: ServiceBroker;
	let producer: DatabaseThis & OutboxThis;
	/** Its timer relays only at start, so every later pass is one a request asked for. */
	let quiet: DatabaseThis & OutboxThis;
	let failing = true;
	const attempts: unknown[] = [];
	const delivered: unknown[] = [];

	beforeAll(async () => {
		const options = brokerOptions(
			loadConfig({ NODE_ENV: "test", DATA_DIR: "memory://", LOG_LEVEL: "error", NAMESPACE: `ob${randomUUID().slice(0, 6)}` }),
		);
		options.middlewares = [
			...(options.middlewares ?? []),
			{
				name: "UnreachableChannel",
				sendToChannel: (next: (channel: string, payload: unknown) => Promise<unknown>) => (channel: string, payload: unknown) => {
					attempts.push(payload);
					if (failing) return Promise.reject(new Error("no stream for this subject"));
					delivered.push(payload);
					return next(channel, payload);
				},
			} as never,
		];
		broker = new ServiceBroker(options);
		broker.createService({
			name: "producer",
			mixins: [
				Database({
					schema: "outbox_probe",
					migrations: [{ name: "1", up: (db) => runStatements(db, messagingTables("outbox_probe")), down: async () => undefined }],
				}),
				Outbox({ schema: "outbox_probe", intervalMs: INTERVAL_MS }),
			],
		});
		broker.createService({
			name: "quiet-producer",
			mixins: [
				Database({
					schema: "outbox_quiet",
					migrations: [{ name: "1", up: (db) => runStatements(db, messagingTables("outbox_quiet")), down: async () => undefined }],
				}),
				Outbox({ schema: "outbox_quiet", intervalMs: 600_000 }),
			],
		});
		await broker.start();
		producer = broker.getLocalService("producer") as unknown as DatabaseThis & OutboxThis;
		quiet = broker.getLocalService("quiet-producer") as unknown as DatabaseThis & OutboxThis;
		await producer.dbReady;
		await quiet.dbReady;
		await sleep(50); // the first tick has run on the empty table
	});
	afterAll(() => broker?.stop());

	it("R30: after a failed pass, requests' relays wait for the timer; the rows are delivered once the channel answers", async () => {
		await producer.db.transaction(async (trx) => {
			for (let i = 0; i < 3; i++) await producer.enqueue(trx, "probe.channel", { n: i });
		});
		attempts.length = 0;
		await expect(producer.relayOutbox()).rejects.toThrow("no stream");
		expect(attempts).toHaveLength(3);
		for (let i = 0; i < 20; i++) await producer.relayOutbox(); // what 20 requests would trigger
		expect(attempts).toHaveLength(3);
		expect(Number((await producer.db("outbox_probe.outbox").count({ n: "*" }))[0]?.n)).toBe(3);

		failing = false;
		const deadline = Date.now() + 5_000;
		while (delivered.length < 3 && Date.now() < deadline) await sleep(20);
		expect(delivered).toHaveLength(3);
		expect(Number((await producer.db("outbox_probe.outbox").count({ n: "*" }))[0]?.n)).toBe(0);
	});

	it("R14: the relays that requests ask for soon share one pass, which delivers every row", async () => {
		await sleep(50); // the start-up pass has run
		const passes = jest.spyOn(quiet, "relayOutbox");
		delivered.length = 0;
		for (let i = 0; i < 3; i++) await quiet.db.transaction((trx) => quiet.enqueue(trx, "probe.channel", { soon: i }));
		for (let i = 0; i < 3; i++) quiet.relayOutboxSoon(); // three requests of the moment
		const deadline = Date.now() + 5_000;
		while (delivered.length < 3 && Date.now() < deadline) await sleep(10);
		expect(delivered).toHaveLength(3);
		expect(passes).toHaveBeenCalledTimes(1);
		expect(Number((await quiet.db("outbox_quiet.outbox").count({ n: "*" }))[0]?.n)).toBe(0);
	});
});
