/**
 * Group commit: work items submitted while a commit is running are committed together by the next
 * one, in one transaction. Under load, the per-transaction costs (BEGIN, COMMIT, a pooled
 * connection, knex's transaction object, a relay pass) are paid once per group instead of once per
 * item; alone, an item is committed at once, so nothing waits for a group to fill.
 *
 * A group that fails is committed again one item at a time, so one item that can never commit
 * fails alone and a passing fault gets one more try for each item.
 */
/** The most items one commit takes. */
export const MAX_GROUP = 128;
/**
 * `maxInFlight` for a channel whose handler group-commits: a group can fill while the one before it
 * commits. (With JetStream this is the durable consumer's max ack pending, set when it is created.)
 */
export const GROUP_COMMIT_IN_FLIGHT = 2 * MAX_GROUP;

export class GroupCommit<T, R> {
	private waiting: { item: T; resolve: (result: R) => void; reject: (err: unknown) => void }[] = [];
	private running = 0;

	/**
	 * @param commit commits the items (all or none) and returns one result per item, in order
	 * @param maxGroup the most items one commit takes
	 * @param concurrency how many commits may run at once (each holds a database connection)
	 */
	constructor(
		private readonly commit: (items: T[]) => Promise<R[]>,
		private readonly maxGroup = MAX_GROUP,
		private readonly concurrency = 1,
	) {}

	submit(item: T): Promise<R> {
		return new Promise<R>((resolve, reject) => {
			this.waiting.push({ item, resolve, reject });
			this.next();
		});
	}

	private next(): void {
		if (this.running >= this.concurrency || this.waiting.length === 0) return;
		const group = this.waiting.splice(0, this.maxGroup);
		this.running += 1;
		void this.run(group).finally(() => {
			this.running -= 1;
			this.next();
		});
	}

	private async run(group: typeof this.waiting): Promise<void> {
		try {
			const results = await this.commit(group.map((w) => w.item));
			for (const [i, w] of group.entries()) w.resolve(results[i] as R);
		} catch (err) {
			if (group.length === 1) {
				group[0]?.reject(err);
				return;
			}
			for (const w of group) {
				await this.commit([w.item]).then(
					([result]) => w.resolve(result as R),
					(alone: unknown) => w.reject(alone),
				);
			}
		}
	}
}
