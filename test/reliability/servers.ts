import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { type TestInfra, uniqueNamespace } from "../support/infra";
import { freePort } from "../support/portal";

/**
 * Private NATS, Redis and Postgres servers for fault tests: each on a free loopback port and a
 * temporary directory, so that a test can kill and restart them without touching the machine's
 * shared servers (4222, 6379, 5432).
 */
export interface FaultServer {
	name: string;
	url: string;
	/** Starts it (again, on the same port and data). */
	start(): Promise<void>;
	/** SIGKILL, no goodbye: clients see the connection drop. */
	kill(): Promise<void>;
	/** Stops it for good and removes its files. */
	destroy(): Promise<void>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function untilListening(port: number, what: string, timeoutMs = 15_000): Promise<void> {
	const { connect } = await import("node:net");
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const open = await new Promise<boolean>((resolve) => {
			const socket = connect(port, "127.0.0.1");
			socket.once("connect", () => {
				socket.destroy();
				resolve(true);
			});
			socket.once("error", () => resolve(false));
		});
		if (open) return;
		if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
		await pause(50);
	}
}

function processServer(name: string, port: number, url: string, command: string, args: string[], dir: string): FaultServer {
	let child: ChildProcess | undefined;
	let output = "";
	const stop = async (signal: NodeJS.Signals) => {
		const running = child;
		child = undefined;
		if (!running || running.exitCode !== null || running.signalCode !== null) return;
		const exited = new Promise((resolve) => running.once("exit", resolve));
		running.kill(signal);
		await exited;
	};
	return {
		name,
		url,
		async start() {
			child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
			child.stdout?.on("data", (chunk: Buffer) => {
				output = (output + chunk.toString()).slice(-4000);
			});
			child.stderr?.on("data", (chunk: Buffer) => {
				output = (output + chunk.toString()).slice(-4000);
			});
			await untilListening(port, `${name}: ${output}`);
		},
		kill: () => stop("SIGKILL"),
		async destroy() {
			await stop("SIGKILL");
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

/** `nats-server -js` with its JetStream store in a temp dir that survives restarts (like a PVC). */
export async function natsServer(): Promise<FaultServer> {
	const port = await freePort();
	const dir = mkdtempSync(join(tmpdir(), "fault-nats-"));
	const server = processServer(
		"nats",
		port,
		`nats://127.0.0.1:${port}`,
		"nats-server",
		["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
		dir,
	);
	await server.start();
	return server;
}

/**
 * A Redis without persistence (a killed Redis comes back empty), or with an append-only file
 * (`persistent`, the Redis Helm chart's default): then it comes back with the keys it had.
 */
export async function redisServer(opts: { persistent?: boolean } = {}): Promise<FaultServer> {
	const port = await freePort();
	const dir = mkdtempSync(join(tmpdir(), "fault-redis-"));
	const server = processServer(
		"redis",
		port,
		`redis://127.0.0.1:${port}`,
		"redis-server",
		[
			...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir],
			...(opts.persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
		],
		dir,
	);
	await server.start();
	return server;
}

function postgresBin(name: string): string {
	if (existsSync(`/usr/local/bin/${name}`)) return `/usr/local/bin/${name}`;
	const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").sort().reverse() : [];
	for (const version of versions)
		if (existsSync(`/usr/lib/postgresql/${version}/bin/${name}`)) return `/usr/lib/postgresql/${version}/bin/${name}`;
	return name;
}

/** initdb refuses root: run the server binaries as the `postgres` user then. */
const asPostgresUser = (command: string, args: string[]): [string, string[]] =>
	process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];

/** A throw-away Postgres cluster (trust auth, fsync off) owned by this test. */
export async function postgresServer(): Promise<FaultServer> {
	const port = await freePort();
	const dir = mkdtempSync(join(tmpdir(), "fault-pg-"));
	if (process.getuid?.() === 0) execFileSync("chown", ["postgres", dir]);
	const data = join(dir, "data");
	execFileSync(...asPostgresUser(postgresBin("initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-N"]), { stdio: "ignore" });
	const pgCtl = (args: string[]) => execFileSync(...asPostgresUser(postgresBin("pg_ctl"), ["-D", data, ...args]), { stdio: "ignore" });
	const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
	const stop = () => {
		try {
			pgCtl(["-m", "immediate", "-w", "stop"]);
		} catch {
			// Already stopped.
		}
	};
	const server: FaultServer = {
		name: "postgres",
		url: `postgres://postgres@127.0.0.1:${port}/postgres`,
		async start() {
			pgCtl(["-o", options, "-l", join(dir, "log"), "-w", "start"]);
			await untilListening(port, "postgres");
		},
		async kill() {
			stop();
		},
		async destroy() {
			stop();
			rmSync(dir, { recursive: true, force: true });
		},
	};
	await server.start();
	return server;
}

/** The portal's env for servers of this test: a namespace of its own on private servers. */
export function faultInfra(servers: { postgres: FaultServer; nats?: FaultServer; redis?: FaultServer }): TestInfra {
	const namespace = uniqueNamespace();
	return {
		namespace,
		env: {
			NAMESPACE: namespace,
			DATABASE_URL: servers.postgres.url,
			...(servers.redis ? { CACHER: servers.redis.url } : {}),
			...(servers.nats ? { TRANSPORTER: servers.nats.url, CHANNELS: servers.nats.url } : {}),
		},
		cleanup: async () => undefined,
	};
}

/** How many mails each of these addresses got (communications' outbox of mails), by lower-cased address. */
export async function mailsPerAddress(db: Knex, addresses: string[]): Promise<Map<string, number>> {
	const result = await db.raw<{ rows: { address: string; mails: number }[] }>(
		"select lower(to_address) as address, count(*)::int as mails from communications.mails where lower(to_address) = any(?) group by 1",
		[addresses.map((a) => a.toLowerCase())],
	);
	return new Map(result.rows.map((row) => [row.address, row.mails]));
}
