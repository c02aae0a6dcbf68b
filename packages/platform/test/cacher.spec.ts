import { loadConfig, metricsText } from "@portal/platform";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../../moleculer.config";
import { createTestInfra, type TestInfra } from "../../../test/support/infra";

const counter = (text: string, name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, "m").exec(text)?.[1] ?? Number.NaN);

/** Operations read the cache's hit rate from /metrics (docs/operations.md); the tallies must add up. */
describe("the portal's cacher", () => {
	let infra: TestInfra;
	let broker: ServiceBroker;

	beforeAll(async () => {
		infra = await createTestInfra();
		broker = new ServiceBroker(brokerOptions(loadConfig({ NODE_ENV: "test", LOG_LEVEL: "error", ...infra.env })));
		await broker.start();
	});

	afterAll(async () => {
		await broker.stop();
		await infra.cleanup();
	});

	it("R12: counts gets, hits, sets and deletes by scrape, with no per-operation timing histograms", async () => {
		const cacher = broker.cacher as NonNullable<ServiceBroker["cacher"]>;
		expect((await cacher.get("probe:a")) ?? null).toBeNull();
		await cacher.set("probe:a", { allowed: true });
		expect(await cacher.get("probe:a")).toEqual({ allowed: true });
		expect(await cacher.get("probe:a")).toEqual({ allowed: true });
		await cacher.del("probe:a");
		expect((await cacher.get("probe:a")) ?? null).toBeNull();

		const first = metricsText(broker);
		expect(counter(first, "moleculer_cacher_get_total")).toBe(4);
		expect(counter(first, "moleculer_cacher_found_total")).toBe(2);
		expect(counter(first, "moleculer_cacher_set_total")).toBe(1);
		expect(counter(first, "moleculer_cacher_del_total")).toBe(1);
		expect(first).not.toMatch(/moleculer_cacher_\w+_time/);

		// A scrape moves the tallies into the registry once: the next scrape adds only what came since.
		await cacher.get("probe:a");
		expect(counter(metricsText(broker), "moleculer_cacher_get_total")).toBe(5);
	});
});
