import { Database, loadConfig } from "@portal/platform";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../../moleculer.config";
import { createTestInfra, type TestInfra } from "../../../test/support/infra";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * R30: a process whose services migrate at start must start on a busy machine. On PGlite its one
 * connection is held by each migration in turn, and a service that queued for it behind the others
 * spent knex's acquire timeout waiting: the start failed. So a process's services migrate one at a time.
 */
describe("migrations at start", () => {
	let infra: TestInfra;
	let broker: ServiceBroker;
	const steps: string[] = [];

	const migratingService = (name: string) => ({
		name,
		mixins: [
			Database({
				schema: `${name}_probe`,
				migrations: [
					{
						name: "1",
						up: async () => {
							steps.push(`${name} begins`);
							await sleep(200);
							steps.push(`${name} ends`);
						},
						down: async () => undefined,
					},
				],
			}),
		],
	});

	beforeAll(async () => {
		infra = await createTestInfra();
		broker = new ServiceBroker(brokerOptions(loadConfig({ NODE_ENV: "test", LOG_LEVEL: "error", MIGRATE_ON_START: "true", ...infra.env })));
		for (const name of ["first", "second", "third"]) broker.createService(migratingService(name));
		await broker.start();
	});

	afterAll(async () => {
		await broker.stop();
		await infra.cleanup();
	});

	it("R30: the services of one process migrate one after another, never side by side", () => {
		expect(steps).toHaveLength(6);
		for (let i = 0; i < steps.length; i += 2) {
			const name = steps[i]?.replace(" begins", "");
			expect(steps.slice(i, i + 2)).toEqual([`${name} begins`, `${name} ends`]);
		}
	});
});
