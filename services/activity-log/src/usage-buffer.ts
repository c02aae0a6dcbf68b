import { Unavailable } from "@portal/platform";

export interface BufferOptions {
	/** Records per insert; a full batch is written at once. */
	batchSize: number;
	/** A partial batch waits at most this long. */
	flushMs: number;
	/** Records held in memory at most; beyond it `add` waits (back-pressure on the channel and the HTTP caller). */
	maxPending: number;
}

interface Pending<T> {
	record: T;
	resolve: () => void;
	reject: (err: unknown) => void;
}

/**
 * Group commit for high-volume records (R14). `add` resolves only once its record is committed, so a
 * channel message is acknowledged, and an HTTP click answered, only after it is durable: a crash
 * loses nothing that was acknowledged, and the at-least-once redelivery of the rest is absorbed by
 * the writer's dedupe on message id. One batch is written at a time; what arrives meanwhile forms
 * the next batch. `close` writes everything still held (graceful shutdown).
 */
export class BatchBuffer<T> {
	private pending: Pending<T>[] = [];
	private waitingForSpace: (() => void)[] = [];
	private timer: NodeJS.Timeout | undefined;
	private writing: Promise<void> | undefined;
	private closed = false;

	constructor(
		private readonly write: (batch: T[]) => Promise<unknown>,
		private readonly opts: BufferOptions,
		private readonly onError: (err: unknown, size: number) => void = () => undefined,
	) {}

	get size(): number {
		return this.pending.length;
	}

	async add(record: T): Promise<void> {
		while (this.pending.length >= this.opts.maxPending && !this.closed) {
			await new Promise<void>((resolve) => this.waitingForSpace.push(resolve));
		}
		if (this.closed) throw new Unavailable("The activity log is shutting down; try again.", "ACTIVITY_LOG_STOPPING");
		return new Promise<void>((resolve, reject) => {
			this.pending.push({ record, resolve, reject });
			this.schedule();
		});
	}

	/** Writes everything held now; resolves when it is written (or its callers were told it failed). */
	flush(): Promise<void> {
		clearTimeout(this.timer);
		this.timer = undefined;
		if (!this.writing) {
			this.writing = this.drain().finally(() => {
				this.writing = undefined;
				if (this.pending.length > 0) this.schedule();
			});
		}
		return this.writing;
	}

	/** Refuses new records and writes every record still held. */
	async close(): Promise<void> {
		this.closed = true;
		for (const wake of this.waitingForSpace.splice(0)) wake();
		while (this.pending.length > 0 || this.writing) await this.flush();
	}

	private schedule(): void {
		if (this.pending.length >= this.opts.batchSize || this.closed) void this.flush();
		else if (!this.timer && !this.writing) this.timer = setTimeout(() => void this.flush(), this.opts.flushMs);
	}

	private async drain(): Promise<void> {
		while (this.pending.length > 0) {
			const batch = this.pending.splice(0, this.opts.batchSize);
			while (this.waitingForSpace.length > 0 && this.pending.length < this.opts.maxPending) this.waitingForSpace.shift()?.();
			try {
				await this.write(batch.map((p) => p.record));
				for (const p of batch) p.resolve();
			} catch (err) {
				this.onError(err, batch.length);
				for (const p of batch) p.reject(new Unavailable("The activity log could not be written; try again.", "ACTIVITY_LOG_UNAVAILABLE"));
			}
		}
	}
}
