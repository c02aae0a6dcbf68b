import { randomUUID } from "node:crypto";
import type { DurableMessage } from "@portal/contracts";
import type { Service, ServiceSchema } from "moleculer";
import type { Knex } from "./database";
import { defineMixin } from "./schema";

export interface OutboxThis {
	db: Knex;
	dbReady: Promise<void>;
	enqueue<T extends DurableMessage>(trx: Knex.Transaction, channel: string, message: Omit<T, keyof DurableMessage>): Promise<string>;
	outboxInsert<T extends DurableMessage>(db: Knex, channel: string, message: Omit<T, keyof DurableMessage>): Knex.QueryBuilder;
	relayOutbox(): Promise<number>;
	relayOutboxSoon(): void;
	outboxTimer?: NodeJS.Timeout;
	outboxRun?: Promise<number>;
	outboxAgain?: boolean;
	/** Until then, only the timer relays: set by a failed pass. */
	outboxQuietUntil?: number;
	outboxSoon?: NodeJS.Timeout;
}

/**
 * How long `relayOutboxSoon` gathers rows before one pass relays them. A pass costs a transaction,
 * a publish and a wake-up of each consumer: during a sign-in storm, a pass per sign-in was about a
 * quarter of identity's CPU per sign-in besides argon2, and half of the activity log's. A usage
 * record can wait this long; a fact someone waits for (a mail) is relayed at once (`relayOutbox`).
 */
export const RELAY_SOON_MS = 200;

/**
 * The transactional outbox (ARCHITECTURE rule 2): a fact is written in the same transaction as the
 * change it reports, then relayed to its durable channel. A relay that fails leaves the row for the
 * next pass; consumers deduplicate on `messageId`, so a row relayed twice is harmless.
 */
export function Outbox(opts: { schema: string; intervalMs?: number }): Partial<ServiceSchema> {
	const table = `${opts.schema}.outbox`;
	const intervalMs = opts.intervalMs ?? 1_000;
	return defineMixin<OutboxThis>({
		methods: {
			async enqueue(trx: Knex.Transaction, channel: string, message: object): Promise<string> {
				const row = outboxRow(channel, message);
				await trx(table).insert(row);
				return row.id;
			},

			/**
			 * The outbox row's insert, not yet run, for a change made by one statement: given to that
			 * statement (`with fact as (…) insert …`), the fact is written atomically with the change
			 * without the round trips of a transaction.
			 */
			outboxInsert(db: Knex, channel: string, message: object): Knex.QueryBuilder {
				return db(table).insert(outboxRow(channel, message));
			},

			/**
			 * Relays what is pending; concurrent calls share one run, replicas split rows by row lock. A
			 * call during a pass makes the run go once more, so a row committed just before the call is
			 * relayed when it resolves (not at the next tick).
			 */
			relayOutbox(): Promise<number> {
				// Once stopped, the channel adapter drops publishes silently: rows stay for the next start.
				if (!this.outboxTimer) return Promise.resolve(0);
				// After a failed pass (a stream missing, JetStream away), a request's relay would publish the
				// whole backlog again and fail again: on a busy service, a storm of doomed publishes. Wait for
				// the timer instead.
				if (Date.now() < (this.outboxQuietUntil ?? 0)) return Promise.resolve(0);
				if (this.outboxRun) {
					this.outboxAgain = true;
					return this.outboxRun;
				}
				this.outboxRun = (async () => {
					let relayed = 0;
					do {
						this.outboxAgain = false;
						relayed += await relayPending(this, table);
					} while (this.outboxAgain);
					return relayed;
				})()
					.catch((err: unknown) => {
						this.outboxQuietUntil = Date.now() + intervalMs;
						throw err;
					})
					.finally(() => {
						this.outboxRun = undefined;
					});
				return this.outboxRun;
			},

			/** Relays within RELAY_SOON_MS, in one pass with whatever else is written meanwhile. */
			relayOutboxSoon(): void {
				if (this.outboxSoon || !this.outboxTimer) return;
				this.outboxSoon = setTimeout(() => {
					this.outboxSoon = undefined;
					void this.relayOutbox().catch(() => undefined);
				}, RELAY_SOON_MS);
			},
		},
		started() {
			const tick = () => {
				this.dbReady
					.then(() => this.relayOutbox())
					.catch((err) => this.logger.warn({ err: String(err) }, "outbox relay failed; will retry"))
					.finally(() => {
						if (this.outboxTimer) this.outboxTimer = setTimeout(tick, intervalMs);
					});
			};
			this.outboxTimer = setTimeout(tick, 0);
		},
		async stopped() {
			clearTimeout(this.outboxTimer);
			clearTimeout(this.outboxSoon);
			this.outboxTimer = undefined;
			this.outboxSoon = undefined;
			await this.outboxRun?.catch(() => undefined);
		},
	});
}

/** An outbox row: its id is the message's id, which consumers deduplicate on. */
export function outboxRow(channel: string, message: object): { id: string; channel: string; payload: DurableMessage } {
	const messageId = randomUUID();
	return { id: messageId, channel, payload: { messageId, occurredAt: new Date().toISOString(), ...message } };
}

const RELAY_BATCH = 100;

/**
 * Relays pending rows a batch at a time: one statement takes the oldest unlocked rows out of the
 * table, the batch is published at once (consumers need no order), and the transaction commits only
 * if every publish succeeded; otherwise the whole batch stays for the next pass.
 */
async function relayPending(svc: Service & OutboxThis, table: string): Promise<number> {
	let relayed = 0;
	for (;;) {
		const taken = await svc.db.transaction(async (trx) => {
			const { rows } = await trx.raw<{ rows: { channel: string; payload: unknown }[] }>(
				`delete from ${table} where id in (select id from ${table} order by created_at limit ? for update skip locked)
				returning channel, payload`,
				[RELAY_BATCH],
			);
			await Promise.all(rows.map((row) => svc.broker.sendToChannel(row.channel, row.payload)));
			return rows.length;
		});
		relayed += taken;
		if (taken < RELAY_BATCH) return relayed;
	}
}

/** Records a message as processed inside the consumer's transaction; false when it was seen before. */
export async function firstDelivery(trx: Knex.Transaction, schema: string, messageId: string): Promise<boolean> {
	const inserted = await trx(`${schema}.processed_messages`)
		.insert({ message_id: messageId })
		.onConflict("message_id")
		.ignore()
		.returning("message_id");
	return inserted.length === 1;
}
