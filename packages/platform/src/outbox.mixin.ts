import { randomUUID } from "node:crypto";
import type { DurableMessage } from "@portal/contracts";
import type { Service, ServiceSchema } from "moleculer";
import type { Knex } from "./database";
import { defineMixin } from "./schema";

export interface OutboxThis {
	db: Knex;
	dbReady: Promise<void>;
	enqueue<T extends DurableMessage>(trx: Knex.Transaction, channel: string, message: Omit<T, keyof DurableMessage>): Promise<string>;
	relayOutbox(): Promise<number>;
	outboxTimer?: NodeJS.Timeout;
	outboxRun?: Promise<number>;
}

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
				const messageId = randomUUID();
				const payload = { messageId, occurredAt: new Date().toISOString(), ...message };
				await trx(table).insert({ id: messageId, channel, payload });
				return messageId;
			},

			/** Relays what is pending; concurrent calls share one pass, replicas split rows by row lock. */
			relayOutbox(): Promise<number> {
				if (!this.outboxRun) {
					this.outboxRun = relayPending(this, table).finally(() => {
						this.outboxRun = undefined;
					});
				}
				return this.outboxRun;
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
			this.outboxTimer = undefined;
			await this.outboxRun?.catch(() => undefined);
		},
	});
}

async function relayPending(svc: Service & OutboxThis, table: string): Promise<number> {
	let relayed = 0;
	for (;;) {
		const batch = await svc.db.transaction(async (trx) => {
			const rows: { id: string; channel: string; payload: unknown }[] = await trx(table)
				.select("id", "channel", "payload")
				.orderBy("created_at")
				.limit(100)
				.forUpdate()
				.skipLocked();
			for (const row of rows) {
				await svc.broker.sendToChannel(row.channel, row.payload);
				await trx(table).where({ id: row.id }).delete();
			}
			return rows.length;
		});
		relayed += batch;
		if (batch < 100) return relayed;
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
