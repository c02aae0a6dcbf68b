import { type ChildProcess, execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { Channels } from "@portal/contracts";
import { loadConfig, openDatabase } from "@portal/platform";
import { purchaseEvent } from "@portal/server";
import { connect, JSONCodec, type JsMsg } from "nats";
import { defaultSnapshotFile } from "../../packages/platform/src/memory-database";
import { createTestInfra } from "../support/infra";
import { freePort } from "../support/portal";
import {
	backgroundCpu,
	type LoadResult,
	listenerPid,
	load,
	type Measured,
	percentile,
	pinned,
	SYSTEM_CPU,
	startNodeScript,
	startPortalProcess,
	stop,
	waitFor,
	waitForLine,
	withCpuPerRequest,
} from "./harness";
import { embeddedPortal, PASSWORD, provisionAccount, type RunningPortal, separatePortal } from "./portal-process";
import type { Figure } from "./run";

const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const fmt = (n: number, unit: string) => `${n >= 100 ? Math.round(n) : n.toFixed(2)} ${unit}`;

/** A load of LOAD_SECONDS after 2 s of the same, so that the JIT has warmed what is measured. */
async function warmedLoad(opts: Omit<Parameters<typeof load>[0], "seconds">): Promise<LoadResult> {
	await load({ ...opts, seconds: 2 });
	return load({ ...opts, seconds: LOAD_SECONDS });
}

async function baselineHttp(body: string, connections: number) {
	const port = await freePort();
	const child = startNodeScript("test/bench/baseline-http.ts", { PORT: String(port), BASELINE_BODY: body });
	try {
		await waitFor(`http://127.0.0.1:${port}/`);
		return await warmedLoad({ url: `http://127.0.0.1:${port}/`, connections });
	} finally {
		await stop(child);
	}
}

/** The stack's floor (floor-gateway.ts), `roles` a process each on the system core, ready to load. */
async function startFloor(roles: string[], env: Record<string, string>) {
	const port = await freePort();
	const children = roles.map((role) => startNodeScript("test/bench/floor-gateway.ts", { ...env, PORT: String(port), FLOOR_ROLE: role }));
	const stopAll = async () => {
		await Promise.all(children.map((child) => stop(child)));
	};
	try {
		await waitForLine(children.at(-1) as ChildProcess, /^ready$/m);
	} catch (err) {
		await stopAll();
		throw err;
	}
	return { url: `http://127.0.0.1:${port}/api/v1`, stop: stopAll };
}

/**
 * The same read on bare moleculer-web and Moleculer, without and with the two things the portal's
 * rules add to every call: what the stack alone allows against the same baseline. One process, or over
 * `infraEnv`'s NATS and Redis with gateway, identity and profile in a process each.
 */
async function floorReads(body: string, connections: number, infraEnv?: Record<string, string>) {
	const roles = infraEnv ? ["identity", "profile", "gateway"] : ["all"];
	const token = randomUUID();
	const read = async (rules: boolean) => {
		const floor = await startFloor(roles, { ...infraEnv, FLOOR_TOKEN: token, FLOOR_BODY: body, FLOOR_RULES: rules ? "1" : "0" });
		try {
			return await warmedLoad({ url: `${floor.url}/profiles/me`, connections, headers: { Authorization: `Bearer ${token}` } });
		} finally {
			await floor.stop();
		}
	};
	return { defaults: await read(false), rules: await read(true) };
}

/** The floor's two rows beside a read figure, against the same node:http baseline. */
function floorFigures(where: string, floor: Awaited<ReturnType<typeof floorReads>>, baseline: LoadResult): Figure[] {
	const row = (variant: string, read: LoadResult): Figure => ({
		name: `floor: the same read on bare moleculer-web and Moleculer, ${where}, ${variant}`,
		measured: `${fmt(read.requestsPerSecond, "req/s")} (p99 ${read.p99} ms, non-2xx ${read.non2xx})`,
		baseline: `node:http ${fmt(baseline.requestsPerSecond, "req/s")}`,
		ratio: read.requestsPerSecond / baseline.requestsPerSecond,
		target: "(the stack's floor, for comparison)",
		pass: read.non2xx === 0 && read.errors === 0,
	});
	return [row("Moleculer's defaults", floor.defaults), row("+ request timeout and request scope", floor.rules)];
}

/**
 * The owner's read of their own information, through the gateway, as a browser would, with the CPU
 * each of `processes` spent per read.
 */
async function ownerRead(url: string, token: string, connections: number, processes: Measured[]) {
	const headers = { Authorization: `Bearer ${token}` };
	const profile = await fetch(`${url}/api/v1/profiles/me`, { headers });
	const path = profile.ok ? "/api/v1/profiles/me" : "/api/v1/me";
	const body = await (await fetch(`${url}${path}`, { headers })).text();
	await load({ url: `${url}${path}`, connections, seconds: 2, headers });
	const { result: measured, perRequest } = await withCpuPerRequest(processes, () =>
		load({ url: `${url}${path}`, connections, seconds: LOAD_SECONDS, headers }),
	);
	const cpu = perRequest.map(({ role, main, others }) => `${role} ${Math.round((main + others) * 1000)}`).join(", ");
	return { path, body, measured, cpuPerRead: `CPU µs per read: ${cpu}` };
}

const portalProcesses = (portal: RunningPortal): Measured[] => portal.roles.map((role, i) => ({ role, pid: portal.processes[i]?.pid }));

/** The machine's NATS and Redis servers of a test infrastructure (not pinned: they are not the portal). */
const sharedServers = (env: Record<string, string>): Measured[] =>
	Object.entries({ "nats-server": env.TRANSPORTER, "redis-server": env.CACHER }).flatMap(([role, url]) =>
		url ? [{ role, pid: listenerPid(Number(new URL(url).port)) }] : [],
	);

export const figures: { id: string; run(): Promise<Figure[]> }[] = [
	{
		id: "read-embedded",
		async run() {
			const portal = await embeddedPortal();
			let result: Awaited<ReturnType<typeof ownerRead>>;
			try {
				result = await ownerRead(portal.url, await provisionAccount(portal, "bench-read@example.com"), 20, portalProcesses(portal));
			} finally {
				await portal.stop();
			}
			const floor = await floorReads(result.body, 20);
			const baseline = await baselineHttp(result.body, 20);
			const ratio = result.measured.requestsPerSecond / baseline.requestsPerSecond;
			return [
				{
					name: `GET ${result.path}, one process (embedded)`,
					measured: `${fmt(result.measured.requestsPerSecond, "req/s")} (p99 ${result.measured.p99} ms, non-2xx ${result.measured.non2xx}); ${result.cpuPerRead}`,
					baseline: `node:http ${fmt(baseline.requestsPerSecond, "req/s")}`,
					ratio,
					target: "≥ 0.33",
					pass: ratio >= 0.33 && result.measured.non2xx === 0,
				},
				...floorFigures("one process", floor, baseline),
			];
		},
	},
	{
		id: "read-nats",
		async run() {
			const infra = await createTestInfra();
			let result: Awaited<ReturnType<typeof ownerRead>>;
			let floor: Awaited<ReturnType<typeof floorReads>>;
			try {
				const services = ["gateway", "identity", "communications", "profile", "sharing"].filter(
					(s) => existsSync(`services/${s}/src`) || s === "gateway",
				);
				const portal = await separatePortal(infra.env, services);
				try {
					const token = await provisionAccount(portal, "bench-read-nats@example.com");
					result = await ownerRead(portal.url, token, 20, [...portalProcesses(portal), ...sharedServers(infra.env)]);
				} finally {
					await portal.stop();
				}
				floor = await floorReads(result.body, 20, infra.env);
			} finally {
				await infra.cleanup();
			}
			const baseline = await baselineHttp(result.body, 20);
			const ratio = result.measured.requestsPerSecond / baseline.requestsPerSecond;
			return [
				{
					name: `GET ${result.path}, separate processes over NATS`,
					measured: `${fmt(result.measured.requestsPerSecond, "req/s")} (p99 ${result.measured.p99} ms, non-2xx ${result.measured.non2xx}); ${result.cpuPerRead}`,
					baseline: `node:http ${fmt(baseline.requestsPerSecond, "req/s")}`,
					ratio,
					target: "≥ 0.15",
					pass: ratio >= 0.15 && result.measured.non2xx === 0,
				},
				...floorFigures("a process each over NATS", floor, baseline),
			];
		},
	},
	{
		id: "sign-in",
		async run() {
			// As pods run it (gateway and identity processes on Postgres, Redis and NATS), and the whole
			// portal in one embedded process, whose PGlite does every query on the measured core.
			const infra = await createTestInfra();
			let pods: Awaited<ReturnType<typeof signInStorm>>;
			let floor: Awaited<ReturnType<typeof floorSignIns>>;
			try {
				pods = await signInStorm(await separatePortal(infra.env, ["gateway", "identity", "communications", "activity-log"]), 1);
				floor = await floorSignIns(infra.env);
			} finally {
				await infra.cleanup();
			}
			const embedded = await signInStorm(await embeddedPortal(), 0);
			// The raw rate at its best: one hash at a time beats four on one core (each sweeps 19 MiB through
			// the caches), and the portal hashes one at a time per core too.
			const [one, four] = [await rawVerifies(1), await rawVerifies(4)];
			const baseline = Math.max(one.perSecond, four.perSecond);
			const ratio = pods.signIns / baseline;
			return [
				{
					name: "sign-ins/s (argon2id m=19 MiB, t=2, p=1), gateway, identity, communications, activity-log processes on Postgres, Redis, NATS",
					measured: `${fmt(pods.signIns, "/s")} (p99 ${pods.p99} ms, non-2xx ${pods.non2xx}); event-loop delay p99 ${pods.loopDelayP99.toFixed(1)} ms; ${pods.cpuPerSignIn}`,
					baseline: `raw verify, the better of one at a time ${fmt(one.perSecond, "/s")} (${one.msPerHash.toFixed(1)} ms/hash) and four ${fmt(four.perSecond, "/s")}`,
					ratio,
					target: "≥ 0.85; event-loop delay p99 < 20 ms",
					pass: ratio >= 0.85 && pods.non2xx === 0 && pods.loopDelayP99 < 20,
				},
				{
					name: "sign-ins/s, one embedded process (PGlite on the measured core)",
					measured: `${fmt(embedded.signIns, "/s")} (p99 ${embedded.p99} ms, non-2xx ${embedded.non2xx}); event-loop delay p99 ${embedded.loopDelayP99.toFixed(1)} ms; ${embedded.cpuPerSignIn}`,
					baseline: "the same raw verify",
					ratio: embedded.signIns / baseline,
					target: "(shown for comparison)",
					pass: embedded.non2xx === 0,
				},
				{
					name: "floor: the same sign-in on bare moleculer-web and Moleculer, gateway and identity over NATS, the portal's hashing and nothing else",
					measured: `${fmt(floor.signIns, "/s")} (p99 ${floor.p99} ms, non-2xx ${floor.non2xx})`,
					baseline: "the same raw verify",
					ratio: floor.signIns / baseline,
					target: "(the stack's floor, for comparison)",
					pass: floor.non2xx === 0 && floor.errors === 0,
				},
			];
		},
	},
	{
		id: "purchase-jetstream",
		async run() {
			const infra = await createTestInfra();
			const natsUrl = new URL(infra.env.CHANNELS ?? "nats://127.0.0.1:4222").host;
			try {
				const portal = await separatePortal(infra.env, ["gateway", "identity", "communications"]);
				const db = openDatabase(loadConfig(infra.env));
				const nc = await connect({ servers: natsUrl });
				const commits = await watchCommits(db);
				try {
					const js = nc.jetstream();
					const subject = `${infra.namespace}.${Channels.purchaseCompleted}`;
					const codec = JSONCodec();
					let buyer = 0;
					const publish = (sentAt: Map<string, number>) => () => {
						const event = purchaseEvent({ email: `buyer-${buyer++}@bench.example`, product: "RB9" });
						sentAt.set(event.eventId, performance.now());
						return js.publish(subject, codec.encode(event));
					};
					/** Publishes a phase, then waits for every event's commit; latencies in ms, rate in events/s. */
					const phase = async (send: (publish: () => Promise<unknown>) => Promise<unknown>, timeoutMs: number) => {
						const sentAt = new Map<string, number>();
						await send(publish(sentAt));
						const done = () => [...sentAt.keys()].filter((id) => commits.has(id)).length;
						for (const until = Date.now() + timeoutMs; done() < sentAt.size && Date.now() < until; )
							await new Promise((resolve) => setTimeout(resolve, 20));
						const latencies = [...sentAt].flatMap(([id, at]) => (commits.has(id) ? [(commits.get(id) as number) - at] : []));
						const first = Math.min(...sentAt.values());
						const last = Math.max(...[...sentAt.keys()].map((id) => commits.get(id) ?? 0));
						return { sent: sentAt.size, done: done(), p99: Math.round(percentile(latencies, 99)), rate: done() / ((last - first) / 1000) };
					};
					// Warm-up: the services start (tsx) after the gateway answers; the durable consumer keeps what they miss.
					await phase((p) => paced(PURCHASE_RATE, 2, p), 120_000);
					const steady = await phase((p) => paced(PURCHASE_RATE, LOAD_SECONDS, p), 60_000);
					const burst = await phase((p) => burstOf(PURCHASE_BURST, p), 60_000);
					const raw = await rawJetStreamRoundTrip(natsUrl, `${infra.namespace}-raw`);
					return [
						{
							name: `purchase event → account row over JetStream, paced at ${PURCHASE_RATE}/s for ${LOAD_SECONDS} s`,
							measured: `${fmt(steady.rate, "events/s")}, p99 ${steady.p99} ms (${steady.done}/${steady.sent}); burst of ${burst.sent}: ${fmt(burst.rate, "events/s")}`,
							baseline: `raw publish→consume paced p99 ${raw.steady.p99} ms; burst ${fmt(raw.burst.rate, "msg/s")}`,
							ratio: burst.rate / raw.burst.rate,
							target: "p99 < 50 ms; ≥ 500 events/s",
							pass: steady.p99 < 50 && steady.rate >= 500 && steady.done === steady.sent && burst.done === burst.sent,
							detail: { steady, burst, raw },
						},
					];
				} finally {
					await commits.close();
					await nc.close();
					await db.destroy();
					await portal.stop();
				}
			} finally {
				await infra.cleanup();
			}
		},
	},
	{
		id: "sharing-check",
		async run() {
			const r = (await micro("check")) as Record<string, { perSecond: number; p50: number; p99: number }>;
			const c = r.cachedLatency as { p99: number };
			const u = r.uncachedLatency as { p99: number };
			const cachedRatio = (r.cachedThroughput?.perSecond ?? 0) / (r.redisThroughput?.perSecond ?? 1);
			const uncachedRatio = (r.uncachedThroughput?.perSecond ?? 0) / (r.pkThroughput?.perSecond ?? 1);
			return [
				{
					name: "sharing.check through the broker, cached (Redis)",
					measured: `${fmt(r.cachedThroughput?.perSecond ?? 0, "/s")} at 32 callers; p99 ${c.p99.toFixed(3)} ms alone`,
					baseline: `ioredis GET ${fmt(r.redisThroughput?.perSecond ?? 0, "/s")}; p99 ${r.redisLatency?.p99.toFixed(3)} ms`,
					ratio: cachedRatio,
					target: "p99 < 1 ms; ≥ 0.3",
					pass: c.p99 < 1 && cachedRatio >= 0.3,
				},
				{
					name: "sharing.check uncached (Postgres)",
					measured: `${fmt(r.uncachedThroughput?.perSecond ?? 0, "/s")} at 16 callers; p99 ${u.p99.toFixed(3)} ms alone`,
					baseline: `PK SELECT ${fmt(r.pkThroughput?.perSecond ?? 0, "/s")}; p99 ${r.pkLatency?.p99.toFixed(3)} ms`,
					ratio: uncachedRatio,
					target: "p99 < 5 ms; ≥ 0.4",
					pass: u.p99 < 5 && uncachedRatio >= 0.4,
				},
			];
		},
	},
	{
		id: "ingest",
		async run() {
			const r = (await micro("ingest")) as { events: number; stored: number; portalPerSecond: number; rawPerSecond: number };
			const ratio = r.portalPerSecond / r.rawPerSecond;
			return [
				{
					name: "activity ingest into Postgres (channel → buffer → batched insert + daily counters)",
					measured: `${fmt(r.portalPerSecond, "events/s")} (${r.stored}/${r.events} stored)`,
					baseline: `multi-row INSERT ${fmt(r.rawPerSecond, "rows/s")}`,
					ratio,
					target: "≥ 0.5; ≥ 10 000 events/s",
					pass: ratio >= 0.5 && r.portalPerSecond >= 10_000 && r.stored === r.events,
				},
			];
		},
	},
	{
		id: "inventory",
		async run() {
			const r = (await micro("inventory")) as { rows: number; bytes: number; inventoryMs: number; rawMs: number; rssGrowthMb: number };
			return [
				{
					name: `CCPA inventory of an account with ${r.rows} activity rows (JSON, ${(r.bytes / 1_048_576).toFixed(1)} MiB)`,
					measured: `${r.inventoryMs} ms, peak RSS growth ${r.rssGrowthMb.toFixed(1)} MB`,
					baseline: `raw SELECT of the rows ${r.rawMs} ms`,
					ratio: r.inventoryMs / r.rawMs,
					target: "< 2 s; RSS growth < 100 MB",
					pass: r.inventoryMs < 2_000 && r.rssGrowthMb < 100,
				},
			];
		},
	},
	{
		id: "cold-start",
		async run() {
			/**
			 * From spawn to the first 200 from /readyz: broker started, transporter connected and the
			 * database answering, i.e. the process can serve (a log line alone would not say so).
			 */
			const toReady = async (env: NodeJS.ProcessEnv) => {
				const port = await freePort();
				const t = Date.now();
				const child = startPortalProcess({ SERVICES: "identity", LOG_LEVEL: "info", HEALTH_PORT: String(port), ...env });
				try {
					for (;;) {
						const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
							.then(async (res) => {
								await res.arrayBuffer();
								return res.ok;
							})
							.catch(() => false);
						if (ready) return Date.now() - t;
						if (child.exitCode !== null) throw new Error(`the service process exited (${child.exitCode}) before it was ready`);
						if (Date.now() - t > 60_000) throw new Error("the service process did not become ready within 60 s");
						await new Promise((resolve) => setTimeout(resolve, 10));
					}
				} finally {
					await stop(child);
				}
			};
			// A service process as a pod runs it (the "one service process"): Postgres already
			// migrated by the migration Job, NATS and Redis. The embedded PGlite in memory, which loads an
			// empty cluster and migrates it at every start, is a development mode, shown beside the figure.
			// After an install its first start has no saved cluster yet and runs initdb in WASM: that one
			// is shown apart, so that the figure does not depend on what ran before it.
			const infra = await createTestInfra();
			const times: number[] = [];
			const baselines: number[] = [];
			let embedded: number;
			let firstAfterInstall: number | undefined;
			try {
				execFileSync("node", ["packages/server/dist/packages/server/src/migrate.js"], { env: { ...process.env, ...infra.env } });
				for (let i = 0; i < 3; i++) {
					const t = Date.now();
					const node = pinned(SYSTEM_CPU, "node", ["-e", ""]);
					await new Promise((resolve) => node.once("exit", resolve));
					baselines.push(Date.now() - t);
					times.push(await toReady(infra.env));
				}
				const inMemory = () => toReady({ DATA_DIR: "memory://", NAMESPACE: `cold${randomUUID().slice(0, 6)}` });
				if (!existsSync(defaultSnapshotFile())) firstAfterInstall = await inMemory();
				embedded = await inMemory();
			} finally {
				await infra.cleanup();
			}
			const ms = percentile(times, 50);
			const base = percentile(baselines, 50);
			const firstStart =
				firstAfterInstall === undefined ? "" : ` (${firstAfterInstall} ms the first time after an install, saving the empty cluster)`;
			return [
				{
					name: "cold start of one service process (identity, the bundled entry the image runs; Postgres, NATS, Redis) to /readyz 200",
					measured: `${ms} ms (median of 3); embedded PGlite in memory ${embedded} ms${firstStart}`,
					baseline: `node -e '' ${base} ms`,
					ratio: ms / base,
					target: "< 1.5 s",
					pass: ms < 1_500,
				},
			];
		},
	},
];

const SIGN_IN_LOGIN = "bench-signin@example.com";

/** The storm's request: one customer signing in with the right password, again and again, 8 at a time. */
const signInRequest = (apiUrl: string) => ({
	url: `${apiUrl}/auth/sign-in`,
	method: "POST",
	connections: 8,
	headers: { "content-type": "application/json" },
	body: JSON.stringify({ login: SIGN_IN_LOGIN, password: PASSWORD }),
});

/**
 * 8 clients signing in for LOAD_SECONDS, after 2 s of the same to warm up. Each process's CPU per
 * sign-in is reported beside the rate: the rate is one core divided by their sum. Part of it is each
 * process's background (measured first, over a quiet window), which a low rate divides among few
 * requests. The event-loop delay is the portal's own gauge (p99 over each second), read every half
 * second from the process that runs identity, once the storm is warm (the first second holds
 * start-up and JIT, not the storm).
 */
async function signInStorm(portal: RunningPortal, identityProcess: number) {
	try {
		await provisionAccount(portal, SIGN_IN_LOGIN);
		const signIn = signInRequest(`${portal.url}/api/v1`);
		// Warm, as every other figure is: at ~50 sign-ins/s, 10 s are mostly code not yet optimised by the JIT.
		await load({ ...signIn, seconds: 2 });
		// Once the warm-up's usage records are relayed and stored, what each process spends doing nothing.
		await new Promise((resolve) => setTimeout(resolve, 1_000));
		const background = await backgroundCpu(portalProcesses(portal));
		const metricsUrl = identityProcess === 0 ? portal.url : `http://127.0.0.1:${portal.healthPorts?.[identityProcess]}`;
		let loopDelayP99 = 0;
		const warmFrom = Date.now() + 1_500;
		const watch = setInterval(() => {
			if (Date.now() < warmFrom) return;
			eventLoopDelayP99(metricsUrl).then(
				(ms) => {
					loopDelayP99 = Math.max(loopDelayP99, ms);
				},
				() => undefined, // a scrape lost as the storm ends
			);
		}, 500);
		const { result: storm, perRequest } = await withCpuPerRequest(portalProcesses(portal), () =>
			load({ ...signIn, seconds: LOAD_SECONDS }).finally(() => clearInterval(watch)),
		);
		const signIns = (storm.total - storm.non2xx) / LOAD_SECONDS;
		const cpuPerSignIn = perRequest.map(({ role, main, others }) =>
			others >= 1 ? `${role} ${main.toFixed(1)} (+${others.toFixed(1)} other threads)` : `${role} ${main.toFixed(1)}`,
		);
		const backgroundPerSignIn = portal.roles.map((role, i) => `${role} ${((background[i] ?? Number.NaN) / signIns).toFixed(2)}`);
		return {
			signIns,
			p99: storm.p99,
			non2xx: storm.non2xx,
			loopDelayP99,
			cpuPerSignIn: `CPU ms per sign-in: ${cpuPerSignIn.join(", ")}; of which background (what each spends with no requests): ${backgroundPerSignIn.join(", ")}`,
		};
	} finally {
		await portal.stop();
	}
}

/** The same sign-in storm on the stack's floor: gateway and identity over `infraEnv`'s NATS, a verify and a token. */
async function floorSignIns(infraEnv: Record<string, string>) {
	const floor = await startFloor(["identity", "gateway"], { ...infraEnv, FLOOR_PASSWORD: PASSWORD, FLOOR_NEEDS: "identity" });
	try {
		const storm = await warmedLoad(signInRequest(floor.url));
		// Counted as the portal's storm is: successful sign-ins over the storm's length.
		return { ...storm, signIns: (storm.total - storm.non2xx) / LOAD_SECONDS };
	} finally {
		await floor.stop();
	}
}

/** Raw argon2id verifies/s with the portal's parameters, `concurrency` at a time, pinned like the portal. */
async function rawVerifies(concurrency: number): Promise<{ perSecond: number; msPerHash: number }> {
	const raw = pinned(SYSTEM_CPU, "node_modules/.bin/tsx", ["--conditions=source", "test/bench/argon2-baseline.ts"], {
		SECONDS: String(LOAD_SECONDS),
		CONCURRENCY: String(concurrency),
	});
	let out = "";
	raw.stdout?.on("data", (c: Buffer) => {
		out += c.toString();
	});
	await once(raw, "exit");
	return JSON.parse(out) as { perSecond: number; msPerHash: number };
}

/** The portal's event-loop delay p99 (ms, over its last second) from its /metrics. */
async function eventLoopDelayP99(url: string): Promise<number> {
	const text = await (await fetch(`${url}/metrics`)).text();
	return Number(/^portal_event_loop_delay_p99\{[^}]*\} ([\d.e+-]+)/m.exec(text)?.[1] ?? 0);
}

/** Runs test/bench/micro.ts in a child pinned to the system core, on a fresh database and key prefix. */
async function micro(which: "check" | "ingest" | "inventory"): Promise<unknown> {
	const infra = await createTestInfra();
	try {
		const { TRANSPORTER: _t, CHANNELS: _c, ...env } = infra.env;
		const child = startNodeScript("test/bench/micro.ts", { ...env, BENCH_SECONDS: String(LOAD_SECONDS) }, SYSTEM_CPU, [which]);
		let out = "";
		let err = "";
		child.stdout?.on("data", (c: Buffer) => {
			out += c.toString();
		});
		child.stderr?.on("data", (c: Buffer) => {
			err += c.toString();
		});
		const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
		if (code !== 0) throw new Error(`micro ${which} exited ${code}: ${err.slice(0, 600)}`);
		return JSON.parse(out.trim().split("\n").pop() ?? "{}");
	} finally {
		await infra.cleanup();
	}
}

/**
 * "≥ 500 events/s sustained" with "p99 < 50 ms" is a rate held for a while, each event quickly: the
 * figure publishes at a steady PURCHASE_RATE (10 % above the target, so the committed rate over the
 * window, tail included, can reach it) for BENCH_SECONDS and takes each event's publish → commit time.
 * A burst published all at once measures something else, the most the pipeline absorbs; its p99 is
 * mostly time spent queued behind the burst, so it is reported as a rate only. The raw baseline is
 * paced and burst the same way, so each side of the comparison is like for like.
 */
const PURCHASE_RATE = 550;
const PURCHASE_BURST = 2_000;

/** Publishes `rate` a second for `seconds`, catching up every ~2 ms (a slow ack never slows the pace). */
async function paced(rate: number, seconds: number, publish: () => Promise<unknown>): Promise<void> {
	const total = Math.round(rate * seconds);
	const started = performance.now();
	const acks: Promise<unknown>[] = [];
	while (acks.length < total) {
		const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
		while (acks.length < due) acks.push(publish());
		await new Promise((resolve) => setTimeout(resolve, 2));
	}
	await Promise.all(acks);
}

async function burstOf(count: number, publish: () => Promise<unknown>): Promise<void> {
	await Promise.all(Array.from({ length: count }, publish));
}

/**
 * When each purchase_events row committed, by event id. Its `received_at` is now(), the time its
 * transaction began, so the bench adds a trigger to its own database that NOTIFYs: Postgres delivers a
 * notification only once the transaction commits (and never for one rolled back, a duplicate).
 */
async function watchCommits(db: ReturnType<typeof openDatabase>) {
	await db.raw(`
		create function public.bench_committed() returns trigger language plpgsql as
			$$ begin perform pg_notify('bench_committed', new.event_id); return null; end $$;
		create trigger bench_committed after insert on identity.purchase_events
			for each row execute function public.bench_committed();`);
	type Listener = { query(sql: string): Promise<unknown>; on(event: "notification", fn: (n: { payload?: string }) => void): void };
	const client = db.client as { acquireRawConnection(): Promise<Listener>; destroyRawConnection(c: Listener): Promise<void> };
	const connection = await client.acquireRawConnection();
	const committedAt = new Map<string, number>();
	connection.on("notification", (n) => committedAt.set(n.payload ?? "", performance.now()));
	await connection.query("listen bench_committed");
	return Object.assign(committedAt, { close: () => client.destroyRawConnection(connection) });
}

/** The raw baseline for JetStream: the same paced run and burst, published and consumed on one stream, nothing else. */
async function rawJetStreamRoundTrip(servers: string, name: string) {
	const nc = await connect({ servers });
	const jsm = await nc.jetstreamManager();
	const stream = name.replace(/[^A-Za-z0-9_-]/g, "_");
	await jsm.streams.add({ name: stream, subjects: [`${name}.bench`] });
	try {
		const js = nc.jetstream();
		let latencies: number[] = [];
		const codec = JSONCodec<{ at: number }>();
		const sub = await js.subscribe(`${name}.bench`, {
			mack: true,
			config: { durable_name: "bench", deliver_subject: `${name}.deliver`, ack_policy: "explicit" as never },
			callbackFn: (_err: unknown, msg: JsMsg | null) => {
				if (!msg) return;
				latencies.push(performance.now() - codec.decode(msg.data).at);
				msg.ack();
			},
		} as never);
		const publish = () => js.publish(`${name}.bench`, codec.encode({ at: performance.now() }));
		const phase = async (send: () => Promise<void>, count: number) => {
			latencies = [];
			const started = performance.now();
			await send();
			while (latencies.length < count && performance.now() - started < 60_000) await new Promise((resolve) => setTimeout(resolve, 5));
			return { rate: latencies.length / ((performance.now() - started) / 1000), p99: Math.round(percentile(latencies, 99) * 10) / 10 };
		};
		await phase(() => paced(PURCHASE_RATE, 2, publish), PURCHASE_RATE * 2);
		const steady = await phase(() => paced(PURCHASE_RATE, LOAD_SECONDS, publish), Math.round(PURCHASE_RATE * LOAD_SECONDS));
		const burst = await phase(() => burstOf(PURCHASE_BURST, publish), PURCHASE_BURST);
		await sub.drain();
		return { steady, burst };
	} finally {
		await jsm.streams.delete(stream);
		await nc.close();
	}
}
