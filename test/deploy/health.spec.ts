import { loadConfig } from "@portal/platform";
import { migrateAll, purchaseEvent, startPortal } from "@portal/server";
import type { ServiceBroker } from "moleculer";
import { createTestInfra, type TestInfra } from "../support/infra";
import { eventually, freePort, httpRequest } from "../support/portal";

/**
 * R30: every process answers liveness and readiness on HEALTH_PORT (not only the gateway), so
 * Kubernetes routes no traffic to a replica that is starting, draining or cut off from its database.
 */
describe("health server", () => {
	let infra: TestInfra;
	beforeAll(async () => {
		infra = await createTestInfra();
	});
	afterAll(async () => {
		await infra.cleanup();
	});

	async function start(env: Record<string, string> = {}): Promise<{ broker: ServiceBroker; health: string }> {
		const healthPort = await freePort();
		const config = loadConfig({
			NODE_ENV: "test",
			LOG_LEVEL: "fatal",
			SERVICES: "identity",
			HEALTH_PORT: String(healthPort),
			PORT: String(await freePort()),
			...infra.env,
			...env,
		});
		if (config.databaseUrl && config.migrateOnStart === false && !env.DATABASE_URL) await migrateAll(config);
		const broker = await startPortal(config);
		return { broker, health: `http://127.0.0.1:${healthPort}` };
	}

	it("R30: a process without the gateway is live and ready, and serves its Prometheus metrics", async () => {
		const { broker, health } = await start();
		try {
			const live = await httpRequest(`${health}/livez`, "GET");
			expect(live.status).toBe(200);
			expect(live.body).toMatchObject({ status: "alive", state: "up" });

			const ready = await httpRequest(`${health}/readyz`, "GET");
			expect(ready.status).toBe(200);
			expect(ready.body).toMatchObject({ status: "ready", state: "up", checks: { broker: "up", "database:identity": "up" } });
			if (infra.env.TRANSPORTER) expect(ready.body.checks.transporter).toBe("up");

			const metrics = await fetch(`${health}/metrics`);
			expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
			const text = await metrics.text();
			expect(text).toMatch(/^moleculer_broker_started\{[^}]*\} 1$/m);
			expect(text).toMatch(/portal_calls_total/);
			// Domain metrics are there from the start, at zero, for dashboards and alerts.
			for (const name of ["portal_accounts_created_total", "portal_mails_sent_total", "portal_mails_failed_total"]) {
				expect(text).toMatch(new RegExp(`^${name}\\{[^}]*\\} 0$`, "m"));
			}
			expect(text).toMatch(/^portal_sign_ins_total\{[^}]*result="success"[^}]*\} 0$/m);
		} finally {
			await broker.stop();
		}
	});

	it("R30: sign-ins and created accounts are counted in the process's metrics", async () => {
		// With NATS the channel's stream exists once a consumer subscribed: communications is one.
		const { broker, health } = await start({ SERVICES: "identity,communications" });
		try {
			const system = { meta: { actor: { kind: "system", id: "test", roles: [] } } };
			await broker.call(
				"identity.receivePurchase",
				purchaseEvent({ email: `metrics-${infra.namespace}@example.com`, product: "RB9" }),
				system,
			);
			await expect(broker.call("identity.signIn", { login: "nobody@example.com", password: "wrong password" })).rejects.toThrow();
			const text = await eventually(async () => {
				const body = await (await fetch(`${health}/metrics`)).text();
				return /^portal_accounts_created_total\{[^}]*\} 1$/m.test(body) ? body : undefined;
			}, "the relayed accountCreated fact to be counted").catch(async (err) => {
				throw new Error(
					`${err}\n${(await (await fetch(`${health}/metrics`)).text())
						.split("\n")
						.filter((l) => l.startsWith("portal_"))
						.join("\n")}`,
				);
			});
			expect(text).toMatch(/^portal_sign_ins_total\{[^}]*result="failure"[^}]*\} 1$/m);
		} finally {
			await broker.stop();
		}
	});

	it("R30: readiness goes false the moment shutdown starts while liveness holds, and the server closes after the drain", async () => {
		const { broker, health } = await start();
		const stopped = broker.stop();
		const [ready, live] = await Promise.all([httpRequest(`${health}/readyz`, "GET"), httpRequest(`${health}/livez`, "GET")]);
		expect(ready.status).toBe(503);
		expect(ready.body).toMatchObject({ status: "not ready", checks: { broker: "down" } });
		expect(live.status).toBe(200);
		await stopped;
		await expect(fetch(`${health}/livez`)).rejects.toThrow();
	});

	it("R30: readiness is false while the process's database is away, and names the check", async () => {
		const nowhere = await freePort();
		const { broker, health } = await start({ DATABASE_URL: `postgres://portal@127.0.0.1:${nowhere}/portal`, MIGRATE_ON_START: "false" });
		try {
			const ready = await httpRequest(`${health}/readyz`, "GET");
			expect(ready.status).toBe(503);
			expect(ready.body.checks).toMatchObject({ broker: "up", "database:identity": "down" });
			expect((await httpRequest(`${health}/livez`, "GET")).status).toBe(200);
		} finally {
			await broker.stop();
		}
	});

	it("R30: unknown paths and methods get a clear 4xx", async () => {
		const { broker, health } = await start();
		try {
			expect((await httpRequest(`${health}/nope`, "GET")).status).toBe(404);
			expect((await httpRequest(`${health}/readyz`, "POST")).status).toBe(405);
		} finally {
			await broker.stop();
		}
	});
});
