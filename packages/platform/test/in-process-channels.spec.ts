import {
	ChannelMetric,
	ChannelsMiddleware,
	InProcessChannels,
	loadConfig,
	RequestContextMiddleware,
	requestScope,
	settleTallies,
} from "@portal/platform";
import { type Context, ServiceBroker, type ServiceSchema } from "moleculer";
import { brokerOptions } from "../../../moleculer.config";

const brokers: ServiceBroker[] = [];
afterEach(async () => {
	for (const broker of brokers.splice(0)) if (broker.started) await broker.stop();
});

/** A broker with the channels middleware on the in-process adapter, as embedded mode has it. */
async function startBroker(services: ServiceSchema[], opts: { shutdownTimeout?: number } = {}): Promise<ServiceBroker> {
	const broker = new ServiceBroker({
		logger: false,
		tracking: { enabled: true, shutdownTimeout: opts.shutdownTimeout ?? 5_000 },
		metrics: { enabled: true },
		middlewares: [
			ChannelsMiddleware({ adapter: new InProcessChannels({ maxRetries: 3, maxInFlight: 4 }), context: true }),
			RequestContextMiddleware(),
		],
	});
	for (const service of services) broker.createService(service);
	await broker.start();
	brokers.push(broker);
	return broker;
}

const until = async (done: () => boolean, what: string): Promise<void> => {
	const deadline = Date.now() + 5_000;
	while (!done()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 5));
	}
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A consumer of `channel` in `group` that records what it receives. */
function consumer(name: string, channel: string, group: string, handle: (params: { n: number }) => unknown = () => undefined) {
	const received: number[] = [];
	const schema: ServiceSchema = {
		name,
		channels: {
			[channel]: {
				group,
				async handler(ctx: Context<{ n: number }>) {
					received.push(ctx.params.n);
					await handle(ctx.params);
				},
			},
		},
	};
	return { schema, received };
}

const counter = (broker: ServiceBroker, name: string): number =>
	(broker.metrics.getMetric(name)?.snapshot() as { value: number }[] | undefined)?.reduce((sum, item) => sum + item.value, 0) ?? 0;

describe("in-process channels (embedded mode)", () => {
	it("every consumer group gets each message, and one member of a group gets it", async () => {
		const audit = consumer("audit", "test.fact", "audit");
		const logA = consumer("logA", "test.fact", "log");
		const logB = consumer("logB", "test.fact", "log");
		const broker = await startBroker([audit.schema, logA.schema, logB.schema]);

		for (let n = 0; n < 10; n++) await broker.sendToChannel("test.fact", { n });
		await until(() => audit.received.length === 10 && logA.received.length + logB.received.length === 10, "every delivery");

		expect(audit.received.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
		expect([...logA.received, ...logB.received].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
		expect(logA.received.length).toBe(5);
	});

	it("handles maxInFlight messages at a time and queues the rest without dropping any", async () => {
		let active = 0;
		let peak = 0;
		const slow = consumer("slow", "test.burst", "slow", async () => {
			peak = Math.max(peak, ++active);
			await sleep(1);
			active--;
		});
		const broker = await startBroker([slow.schema]);

		// Far past the 100 that Moleculer's bulkhead queue held before it refused silently.
		for (let n = 0; n < 500; n++) await broker.sendToChannel("test.burst", { n });
		await until(() => slow.received.length === 500, "500 messages");

		expect(peak).toBe(4);
		expect(new Set(slow.received).size).toBe(500);
	});

	it("a consumer's own maxInFlight overrides the adapter's", async () => {
		let active = 0;
		let peak = 0;
		const broker = await startBroker([
			{
				name: "one",
				channels: {
					"test.serial": {
						group: "one",
						maxInFlight: 1,
						async handler() {
							peak = Math.max(peak, ++active);
							await sleep(1);
							active--;
						},
					},
				},
			},
		]);
		for (let n = 0; n < 20; n++) await broker.sendToChannel("test.serial", { n });
		await until(() => active === 0 && peak > 0, "the messages");
		expect(peak).toBe(1);
	});

	it("redelivers a failed message until it succeeds, its own copy each time", async () => {
		let attempts = 0;
		const flaky = consumer("flaky", "test.flaky", "flaky", (params) => {
			// A handler that changes its payload must not change the next delivery's.
			(params as { n: number }).n = -1;
			if (++attempts < 3) throw new Error("passing failure");
		});
		const broker = await startBroker([flaky.schema]);

		await broker.sendToChannel("test.flaky", { n: 7 });
		await until(() => attempts === 3, "the third delivery");
		await sleep(20);

		expect(flaky.received).toEqual([7, 7, 7]);
		expect(counter(broker, "moleculer.channels.messages.errors.total")).toBe(2);
		expect(counter(broker, "moleculer.channels.messages.retries.total")).toBe(2);
	});

	it("R3: after its last delivery fails, a message goes to the dead-letter queue with where it failed", async () => {
		const letters: { payload: unknown; headers: unknown }[] = [];
		let attempts = 0;
		const broker = await startBroker([
			{
				name: "purchases",
				channels: {
					"test.purchase": {
						group: "purchases",
						maxRetries: 2,
						deadLettering: { enabled: true, queueName: "test.purchase.dead" },
						async handler() {
							attempts++;
							throw new Error("never works");
						},
					},
				},
			},
			{
				name: "parking",
				channels: {
					"test.purchase.dead": {
						group: "parking",
						context: false,
						async handler(payload: unknown, raw: { headers: unknown }) {
							letters.push({ payload, headers: raw.headers });
						},
					},
				},
			},
		]);

		await broker.sendToChannel("test.purchase", { orderId: "o-1" });
		await until(() => letters.length === 1, "the dead letter");
		await sleep(20);

		expect(attempts).toBe(2);
		expect(letters).toEqual([
			{ payload: { orderId: "o-1" }, headers: { "x-original-channel": "test.purchase", "x-original-group": "purchases" } },
		]);
		expect(counter(broker, "moleculer.channels.messages.deadLettering.total")).toBe(1);
	});

	it("without dead-lettering, a message is dropped after its last delivery and the channel goes on", async () => {
		const seen: number[] = [];
		const broker = await startBroker([
			{
				name: "picky",
				channels: {
					"test.picky": {
						group: "picky",
						maxRetries: 0,
						async handler(ctx: Context<{ n: number }>) {
							seen.push(ctx.params.n);
							if (ctx.params.n === 1) throw new Error("refused");
						},
					},
				},
			},
		]);
		for (let n = 0; n < 3; n++) await broker.sendToChannel("test.picky", { n });
		await until(() => seen.length === 3, "three deliveries");
		await sleep(20);
		expect(seen.sort()).toEqual([0, 1, 2]);
	});

	it("counts messages sent, handled and in flight as tallies written at scrape, without a timing histogram", async () => {
		let release: () => void = () => undefined;
		const held = new Promise<void>((resolve) => {
			release = resolve;
		});
		const slow = consumer("slow", "test.counted", "counting", () => held);
		const broker = await startBroker([slow.schema]);
		for (let n = 1; n <= 6; n++) await broker.sendToChannel("test.counted", { n });
		await until(() => slow.received.length === 4, "maxInFlight messages in the handler");
		expect(counter(broker, ChannelMetric.total)).toBe(0);
		settleTallies(broker);
		expect(counter(broker, ChannelMetric.sent)).toBe(6);
		expect(counter(broker, ChannelMetric.total)).toBe(4);
		expect(counter(broker, ChannelMetric.active)).toBe(4);
		release();
		await until(() => slow.received.length === 6, "every message");
		await sleep(10);
		settleTallies(broker);
		expect(counter(broker, ChannelMetric.total)).toBe(6);
		expect(counter(broker, ChannelMetric.active)).toBe(0);
		expect(broker.metrics.getMetric("moleculer.channels.messages.time")).toBeNull();
		const series = broker.metrics.getMetric(ChannelMetric.total)?.snapshot() as { labels: Record<string, string> }[];
		expect(series.map((s) => s.labels)).toEqual([{ channel: "test.counted", group: "counting" }]);
	});

	it("handlers' contexts belong to the broker itself", async () => {
		let seen: unknown;
		const broker = await startBroker([
			{
				name: "probe",
				channels: {
					"test.probe": {
						handler(ctx: Context) {
							seen = ctx.broker;
						},
					},
				},
			} as ServiceSchema,
		]);
		await broker.sendToChannel("test.probe", {});
		await until(() => seen !== undefined, "the probe message");
		expect(seen).toBe(broker);
	});

	it("context handlers get the sender's request id and meta", async () => {
		const got: { params: unknown; meta: unknown; requestID: unknown; scoped: unknown }[] = [];
		const broker = await startBroker([
			{
				name: "listener",
				channels: {
					"test.ctx": {
						group: "listener",
						async handler(ctx: Context<unknown, { who: string }>) {
							got.push({ params: ctx.params, meta: ctx.meta, requestID: ctx.requestID, scoped: requestScope.getStore()?.requestId });
						},
					},
				},
			},
			{
				name: "sender",
				actions: {
					send(ctx: Context) {
						return ctx.broker.sendToChannel("test.ctx", { n: 1 }, { ctx });
					},
				},
			},
		]);

		await broker.call("sender.send", {}, { requestID: "req-42", meta: { who: "ann" } });
		await until(() => got.length === 1, "the message");

		expect(got[0]).toEqual({ params: { n: 1 }, meta: { who: "ann" }, requestID: "req-42", scoped: "req-42" });
	});

	it("stopping waits for the messages in flight and in the queue", async () => {
		let handled = 0;
		// Ten rounds of four take longer than the broker's stop delay (100 ms) before services stop.
		const slow = consumer("slow", "test.drain", "slow", async () => {
			await sleep(25);
			handled++;
		});
		const broker = await startBroker([slow.schema]);
		for (let n = 0; n < 40; n++) await broker.sendToChannel("test.drain", { n });

		await broker.stop();
		expect(handled).toBe(40);
	});

	it("stopping waits no longer than the broker's shutdown timeout", async () => {
		const stuck = consumer("stuck", "test.stuck", "stuck", () => new Promise(() => undefined));
		const broker = await startBroker([stuck.schema], { shutdownTimeout: 200 });
		for (let n = 0; n < 10; n++) await broker.sendToChannel("test.stuck", { n });

		const started = Date.now();
		await broker.stop();
		expect(Date.now() - started).toBeLessThan(2_000);
		expect(stuck.received).toHaveLength(4);
	});

	it("is the adapter of a process on its own; with a transporter, channels reach other processes", () => {
		const adapterOf = (env: Record<string, string>) => {
			const broker = new ServiceBroker({ ...brokerOptions(loadConfig({ NODE_ENV: "test", ...env })), logger: false });
			return (broker as unknown as { channelAdapter: object }).channelAdapter.constructor.name;
		};
		expect(adapterOf({})).toBe("InProcessChannels");
		expect(adapterOf({ TRANSPORTER: "nats://127.0.0.1:4222" })).toBe("FakeAdapter");
	});
});
