/** One kind of user request the load sends, and what counts as served. */
export interface Operation {
	name: string;
	send(): Promise<Response>;
	/** A status a user would accept; anything else (5xx, 4xx that should not happen, no answer) is a failure. */
	ok(status: number): boolean;
}

export interface Failure {
	operation: string;
	phase: string;
	status: number | null;
	detail: string;
}

/**
 * A steady, bounded request rate against the gateway (loopback only). It never queues more than
 * `maxInFlight` requests, so a stuck backend shows up as failures or latency, not as a flood.
 */
export class SteadyLoad {
	sent = 0;
	served = 0;
	readonly failures: Failure[] = [];
	readonly perOperation = new Map<string, { sent: number; served: number }>();
	readonly perPhase = new Map<string, { sent: number; served: number }>();
	maxLatencyMs = 0;
	phase = "warm-up";
	private timer: NodeJS.Timeout | undefined;
	private readonly inFlight = new Set<Promise<void>>();
	private next = 0;

	constructor(
		private readonly operations: Operation[],
		private readonly perSecond: number,
		private readonly maxInFlight = 64,
	) {}

	start(): void {
		this.timer = setInterval(() => this.tick(), Math.round(1000 / this.perSecond));
	}

	/** Requests now waiting for an answer. */
	get pending(): number {
		return this.inFlight.size;
	}

	async stop(): Promise<void> {
		clearInterval(this.timer);
		await Promise.all([...this.inFlight]);
	}

	private tick(): void {
		if (this.inFlight.size >= this.maxInFlight) return;
		const operation = this.operations[this.next++ % this.operations.length] as Operation;
		const phase = this.phase;
		this.sent += 1;
		this.count(this.perOperation, operation.name, "sent");
		this.count(this.perPhase, phase, "sent");
		const started = Date.now();
		const request = operation
			.send()
			.then(async (res) => {
				const body = await res.text();
				if (operation.ok(res.status)) {
					this.served += 1;
					this.count(this.perOperation, operation.name, "served");
					this.count(this.perPhase, phase, "served");
				} else {
					this.failures.push({ operation: operation.name, phase, status: res.status, detail: body.slice(0, 300) });
				}
			})
			.catch((err: unknown) => {
				this.failures.push({ operation: operation.name, phase, status: null, detail: String(err) });
			})
			.finally(() => {
				this.maxLatencyMs = Math.max(this.maxLatencyMs, Date.now() - started);
				this.inFlight.delete(request);
			});
		this.inFlight.add(request);
	}

	private count(map: Map<string, { sent: number; served: number }>, key: string, field: "sent" | "served"): void {
		const entry = map.get(key) ?? { sent: 0, served: 0 };
		entry[field] += 1;
		map.set(key, entry);
	}
}
