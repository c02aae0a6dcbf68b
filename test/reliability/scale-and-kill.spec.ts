import { hmacSha256, loadConfig } from "@portal/platform";
import { migrateAll, purchaseEvent, serviceCatalog } from "@portal/server";
import { createTestInfra, describeInfra, type TestInfra } from "../support/infra";
import { eventually, freePort, httpRequest } from "../support/portal";
import { type Operation, SteadyLoad } from "./load";
import { type Replica, servedCalls, startReplica, stopAll, untilReady } from "./processes";

/**
 * R30 on this machine: the gateway and two replicas each of identity (and profile and sharing,
 * once they are in the catalog) run as separate processes on NATS, like pods. Under a steady load
 * of sign-ins and reads, one replica of each is killed with SIGKILL, a new one started, another
 * drained with SIGTERM and restarted; no user request may fail.
 */
const SCALED = ["identity", "profile", "sharing"].filter((name) => name in serviceCatalog);
const PASSWORD = "correct horse battery staple 42";
const RATE_PER_SECOND = 16;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeInfra("scale and kill (separate processes on NATS)", () => {
	let infra: TestInfra;
	let baseEnv: Record<string, string>;
	let gatewayUrl: string;
	const replicas = new Map<string, Replica>();

	async function replica(name: string, services: string, env: Record<string, string> = {}): Promise<Replica> {
		const started = await startReplica(name, { ...baseEnv, SERVICES: services, PORT: String(await freePort()), ...env });
		replicas.set(name, started);
		return started;
	}

	beforeAll(async () => {
		infra = await createTestInfra();
		baseEnv = { NODE_ENV: "test", LOG_LEVEL: "warn", HOST: "127.0.0.1", MIGRATE_ON_START: "false", ...infra.env };
		await migrateAll(loadConfig(baseEnv));
		const port = await freePort();
		gatewayUrl = `http://127.0.0.1:${port}`;
		const others = Object.keys(serviceCatalog).filter((name) => name !== "gateway" && !SCALED.includes(name));
		await Promise.all([
			replica("gateway", "gateway", { PORT: String(port), PUBLIC_URL: gatewayUrl }),
			...(others.length > 0 ? [replica("others", others.join(","))] : []),
			...SCALED.map((name) => replica(`${name}-1`, name)),
		]);
		await Promise.all([...replicas.values()].map((r) => untilReady(r, 80_000)));
		// The second replicas start once the first ones created their durable JetStream consumers:
		// two replicas creating the same consumer at once race (see docs/operations.md, scaling).
		const seconds = await Promise.all(SCALED.map((name) => replica(`${name}-2`, name)));
		await Promise.all(seconds.map((r) => untilReady(r, 80_000)));
	}, 120_000);

	afterAll(async () => {
		await stopAll(replicas.values());
		await infra?.cleanup();
	}, 60_000);

	/** A customer bought a product, activated the account from the welcome mail: returns the bearer token. */
	async function customer(email: string): Promise<string> {
		const config = loadConfig(baseEnv);
		const raw = JSON.stringify(purchaseEvent({ email, product: "RB9" }));
		const bought = await httpRequest(`${gatewayUrl}/api/v1/hooks/purchases`, "POST", {
			raw,
			headers: { "Content-Type": "application/json", "X-OMTI-Signature": `sha256=${hmacSha256(config.purchaseWebhookSecret, raw)}` },
		});
		if (bought.status !== 202) throw new Error(`purchase: ${bought.status} ${JSON.stringify(bought.body)}`);
		const link = await eventually(async () => {
			const res = await httpRequest(`${gatewayUrl}/api/v1/dev/mailbox?to=${encodeURIComponent(email)}`, "GET");
			return Array.isArray(res.body) && res.body[0]?.links?.[0] ? (res.body[0].links[0] as string) : undefined;
		}, `welcome mail to ${email}`);
		const token = new URL(link).searchParams.get("token");
		const activated = await httpRequest(`${gatewayUrl}/api/v1/auth/activate`, "POST", { body: { token, password: PASSWORD } });
		if (activated.status !== 200) throw new Error(`activate: ${activated.status} ${JSON.stringify(activated.body)}`);
		return activated.body.token as string;
	}

	it("R30: kill -9 one replica of each, drain another with SIGTERM, restart: zero failed user requests", async () => {
		const emails = [0, 1, 2, 3].map((i) => `r30-${i}-${infra.namespace}@example.com`);
		const tokens = await Promise.all(emails.map(customer));
		const bearer = (i: number) => ({ Authorization: `Bearer ${tokens[i % tokens.length]}` });
		let turn = 0;
		const read = (name: string, path: string): Operation => ({
			name,
			send: () => fetch(`${gatewayUrl}${path}`, { headers: bearer(turn++), signal: AbortSignal.timeout(30_000) }),
			ok: (status) => status === 200,
		});
		const signIn = () =>
			fetch(`${gatewayUrl}/api/v1/auth/sign-in`, {
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body: JSON.stringify({ login: emails[turn++ % emails.length], password: PASSWORD }),
				signal: AbortSignal.timeout(30_000),
			});
		const operations: Operation[] = [
			{ name: "POST /auth/sign-in", send: signIn, ok: (status) => status === 200 },
			read("GET /me", "/api/v1/me"),
			...(SCALED.includes("profile") ? [read("GET /profiles/me", "/api/v1/profiles/me")] : []),
			...(SCALED.includes("sharing") ? [read("GET /shares", "/api/v1/shares")] : []),
			read("GET /me", "/api/v1/me"),
		];

		const load = new SteadyLoad(operations, RATE_PER_SECOND);
		const timeline: string[] = [];
		const mark = (what: string) => timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what} (in flight: ${load.pending})`);
		const t0 = Date.now();
		load.start();
		try {
			await pause(3_000);

			load.phase = "after kill -9";
			for (const name of SCALED) replicas.get(`${name}-1`)?.child.kill("SIGKILL");
			mark(`SIGKILL ${SCALED.map((n) => `${n}-1`).join(", ")}`);
			await pause(10_000);

			load.phase = "scale back up";
			const fresh = await Promise.all(SCALED.map((name) => replica(`${name}-3`, name)));
			await Promise.all(fresh.map((r) => untilReady(r)));
			mark(`ready ${fresh.map((r) => r.name).join(", ")}`);
			await pause(2_000);

			load.phase = "SIGTERM drain";
			// A burst of sign-ins (each a slow password hash) so that the draining replicas surely hold
			// requests in flight when the signal lands; every one of them must still be answered.
			const burst = Array.from({ length: 12 }, () => signIn().then((res) => res.status));
			await pause(60);
			const draining = SCALED.map((name) => replicas.get(`${name}-2`) as Replica);
			for (const r of draining) r.child.kill("SIGTERM");
			mark(`SIGTERM ${draining.map((r) => r.name).join(", ")} during a burst of ${burst.length} sign-ins`);
			const [exits, burstStatuses] = await Promise.all([Promise.all(draining.map((r) => r.exit)), Promise.all(burst)]);
			mark(`drained replicas exited; burst answered ${burstStatuses.join(",")}`);
			expect(burstStatuses).toEqual(burst.map(() => 200));
			for (const [i, exit] of exits.entries())
				expect({ replica: draining[i]?.name, ...exit }).toEqual({ replica: draining[i]?.name, code: 0, signal: null });

			load.phase = "restart";
			const restarted = await Promise.all(SCALED.map((name) => replica(`${name}-4`, name)));
			await Promise.all(restarted.map((r) => untilReady(r)));
			mark(`ready ${restarted.map((r) => r.name).join(", ")}`);
			await pause(4_000);
			const takesLoad = await Promise.all(restarted.map(async (r) => [r.name, await servedCalls(r, r.name.replace(/-\d+$/, ""))] as const));
			mark(`served by restarted replicas: ${takesLoad.map(([n, c]) => `${n}=${c}`).join(", ")}`);
			for (const [name, calls] of takesLoad) expect({ name, takesLoad: calls > 0 }).toEqual({ name, takesLoad: true });
		} finally {
			await load.stop();
			mark("load stopped");
			process.stdout.write(
				[
					"",
					`R30 scale-and-kill: ${load.sent} requests, ${load.served} served, ${load.failures.length} failed, max latency ${load.maxLatencyMs} ms`,
					`  scaled services: ${SCALED.join(", ")}; rate ${RATE_PER_SECOND}/s`,
					...[...load.perOperation].map(([name, c]) => `  ${name}: ${c.served}/${c.sent}`),
					...[...load.perPhase].map(([name, c]) => `  phase ${name}: ${c.served}/${c.sent}`),
					...timeline.map((line) => `  ${line}`),
					...load.failures.slice(0, 10).map((f) => `  FAILED ${f.phase} ${f.operation}: ${f.status ?? "no answer"} ${f.detail}`),
					"",
				].join("\n"),
			);
		}
		expect(load.sent).toBeGreaterThan(RATE_PER_SECOND * 20);
		expect(load.failures).toEqual([]);
	}, 150_000);
});
