import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync } from "node:fs";

/**
 * The bench shares two cores fairly: whatever is measured (the portal or the raw baseline) runs on
 * core 0 and the load generator on core 1, so both sides of every ratio get the same handicap.
 */
export const SYSTEM_CPU = "0";
export const LOAD_CPU = "1";
const hasTaskset = existsSync("/usr/bin/taskset");

export function pinned(cpu: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
	const [cmd, argv] = hasTaskset ? ["taskset", ["-c", cpu, command, ...args]] : [command, args];
	return spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

const tsx = ["node_modules/.bin/tsx", "--conditions=source"];

/**
 * The portal as it ships: the bundled entry the image runs (run.ts builds it first). Run from the
 * TypeScript sources through tsx, every Error's stack is source-mapped, which costs more than the work
 * itself on some paths and is not what production pays.
 */
export const PORTAL_ENTRY = "packages/server/dist/bundle/start.js";

/**
 * `BENCH_PROFILE=<dir>`: every portal process writes a V8 CPU profile there when it stops (one
 * `.cpuprofile` per process, named by pid; open it in Chrome DevTools or speedscope as a flame graph).
 */
const profileFlags = (): string[] => (process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []);

export function startPortalProcess(env: NodeJS.ProcessEnv): ChildProcess {
	const child = pinned(SYSTEM_CPU, "node", [...profileFlags(), PORTAL_ENTRY], env);
	// Drained: a full pipe would block the portal's logging, and with it the portal.
	child.stdout?.resume();
	child.stderr?.resume();
	return child;
}

export function startNodeScript(script: string, env: NodeJS.ProcessEnv, cpu = SYSTEM_CPU, args: string[] = []): ChildProcess {
	const [bin, ...flags] = tsx;
	return pinned(cpu, bin as string, [...flags, script, ...args], env);
}

/**
 * CPU time a process has used so far, in ms: its main thread (the event loop) and its other threads
 * (libuv's pool, where argon2 runs, and V8's helpers). From /proc; undefined where there is none.
 */
export function processCpuMs(pid: number | undefined): { main: number; others: number } | undefined {
	if (pid === undefined || !existsSync(`/proc/${pid}/task`)) return undefined;
	const used = { main: 0, others: 0 };
	for (const tid of readdirSync(`/proc/${pid}/task`)) {
		let stat: string;
		try {
			stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
		} catch {
			continue; // a thread that ended meanwhile
		}
		// After the command name: state is field 3, utime and stime are fields 14 and 15, in clock ticks.
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
		if (tid === String(pid)) used.main += ms;
		else used.others += ms;
	}
	return used;
}

/** A process whose CPU a figure reports: a portal process, or a shared server the request passes through. */
export interface Measured {
	role: string;
	pid: number | undefined;
}

/** Each process's CPU used (ms, main thread and other threads apart) while `work` runs; undefined where /proc has none. */
async function cpuDuring<T>(processes: Measured[], work: () => Promise<T>) {
	const before = processes.map((p) => processCpuMs(p.pid));
	const result = await work();
	const used = processes.map(({ pid }, i) => {
		const [start, end] = [before[i], processCpuMs(pid)];
		return start && end ? { main: end.main - start.main, others: end.others - start.others } : undefined;
	});
	return { result, used };
}

/**
 * Runs a load and reports each process's CPU per request beside it (ms, from /proc): what a rate on
 * one core is made of. Main thread and other threads (argon2's pool, V8's helpers) apart.
 */
export async function withCpuPerRequest(processes: Measured[], run: () => Promise<LoadResult>) {
	const { result, used } = await cpuDuring(processes, run);
	const perRequest = processes.flatMap(({ role }, i) => {
		const cpu = used[i];
		return cpu ? [{ role, main: cpu.main / result.total, others: cpu.others / result.total }] : [];
	});
	return { result, perRequest };
}

/**
 * Each process's CPU in ms a second with no requests at all (timers, heartbeats, polls), all threads,
 * over a quiet window: at a low request rate this is a visible share of the CPU per request. Five
 * seconds, because /proc counts in 10 ms ticks.
 */
export async function backgroundCpu(processes: Measured[], windowMs = 5_000): Promise<(number | undefined)[]> {
	const { used } = await cpuDuring(processes, () => new Promise((resolve) => setTimeout(resolve, windowMs)));
	return used.map((cpu) => cpu && ((cpu.main + cpu.others) * 1000) / windowMs);
}

/** The pid of the machine's server listening on `port` (the shared NATS or Redis), if `ss` can tell. */
export function listenerPid(port: number): number | undefined {
	try {
		const out = execFileSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8" });
		const pid = /pid=(\d+)/.exec(out)?.[1];
		return pid === undefined ? undefined : Number(pid);
	} catch {
		return undefined;
	}
}

const CLOCK_TICKS = (() => {
	try {
		return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
	} catch {
		return 100;
	}
})();

export async function stop(child: ChildProcess | undefined): Promise<void> {
	if (!child || child.exitCode !== null) return;
	child.kill("SIGTERM");
	const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
	await once(child, "exit");
	clearTimeout(timer);
}

export async function waitFor(url: string, timeoutMs = 60_000): Promise<number> {
	const started = Date.now();
	for (;;) {
		try {
			const res = await fetch(url);
			if (res.ok) return Date.now() - started;
		} catch {
			// not listening yet
		}
		if (Date.now() - started > timeoutMs) throw new Error(`${url} did not become ready`);
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

export async function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
	let seen = "";
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`no line matching ${pattern}: ${seen.slice(-500)}`)), timeoutMs);
		const onData = (chunk: Buffer) => {
			seen += chunk.toString();
			if (pattern.test(seen)) {
				clearTimeout(timer);
				resolve();
			}
		};
		child.stdout?.on("data", onData);
		child.stderr?.on("data", onData);
	});
}

export interface LoadResult {
	requestsPerSecond: number;
	p50: number;
	p99: number;
	non2xx: number;
	errors: number;
	total: number;
}

/** autocannon in its own process on the load core; bounded by duration, loopback only. */
export async function load(opts: {
	url: string;
	connections: number;
	seconds: number;
	method?: string;
	headers?: Record<string, string>;
	body?: string;
}): Promise<LoadResult> {
	const args = [
		"node_modules/.bin/autocannon",
		"--json",
		"-c",
		String(opts.connections),
		"-d",
		String(opts.seconds),
		"-m",
		opts.method ?? "GET",
	];
	for (const [key, value] of Object.entries(opts.headers ?? {})) args.push("-H", `${key}=${value}`);
	if (opts.body) args.push("-b", opts.body);
	args.push(opts.url);
	const child = pinned(LOAD_CPU, "node", args);
	let out = "";
	child.stdout?.on("data", (chunk: Buffer) => {
		out += chunk.toString();
	});
	const [code] = await once(child, "exit");
	if (code !== 0) throw new Error(`autocannon exited ${code}`);
	const result = JSON.parse(out) as {
		requests: { average: number; total: number };
		latency: { p50: number; p99: number };
		non2xx: number;
		errors: number;
	};
	return {
		requestsPerSecond: result.requests.average,
		p50: result.latency.p50,
		p99: result.latency.p99,
		non2xx: result.non2xx,
		errors: result.errors,
		total: result.requests.total,
	};
}

export function percentile(values: number[], p: number): number {
	if (values.length === 0) return Number.NaN;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
