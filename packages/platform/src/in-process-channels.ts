import { Adapters } from "@moleculer/channels";

type BaseAdapter = InstanceType<typeof Adapters.Base>;
/** @moleculer/channels' consumer definition, as its middleware hands it to an adapter. */
type Channel = Parameters<BaseAdapter["subscribe"]>[0];

/** Names @moleculer/channels gives its adapter metrics and dead-letter headers (src/constants.js). */
const METRIC = {
	errors: "moleculer.channels.messages.errors.total",
	retries: "moleculer.channels.messages.retries.total",
	deadLettering: "moleculer.channels.messages.deadLettering.total",
} as const;
const HEADER = { originalChannel: "x-original-channel", originalGroup: "x-original-group" } as const;

/** A message as one consumer group holds it; also the `raw` argument its handler receives. */
export interface InProcessMessage {
	/**
	 * The payload as JSON, written once at publish: every delivery parses its own copy, shaped as
	 * over NATS (dates as strings). JSON text, not the serializer's Buffer: half the cost.
	 */
	data: string;
	headers: Record<string, string> | undefined;
	/** Deliveries so far, this one included. */
	deliveries: number;
}

interface QueuedMessage {
	message: InProcessMessage;
	next: QueuedMessage | undefined;
}

/** One consumer of a channel: its unbounded FIFO and the messages its handler is working on. */
interface Subscription {
	chan: Channel;
	head: QueuedMessage | undefined;
	tail: QueuedMessage | undefined;
	queued: number;
	active: number;
	/** Set while unsubscribing: called once nothing is queued or in flight. */
	onIdle?: () => void;
	/** Unsubscribed: takes no more messages, not even its own retries. */
	closed: boolean;
}

/** The consumers of a channel in one group, and whose turn it is: each message goes to one of them. */
interface Group {
	members: Subscription[];
	turn: number;
}

/**
 * The durable channels' adapter for one process (embedded mode): handlers are called directly,
 * `maxInFlight` at a time per consumer, with the retries and dead-lettering of the NATS adapter.
 * The "Fake" adapter delivers each message as a broker event instead: two more contexts, a bulkhead
 * and the context tracker per message, which doubled the CPU of an ingested usage record.
 *
 * Like the Fake adapter, and unlike JetStream, nothing outlives the process and a message sent to
 * a channel no consumer has subscribed to yet is dropped.
 */
export class InProcessChannels extends Adapters.Base {
	/** Consumer groups by channel name: every group gets each message. */
	private readonly channels = new Map<string, Map<string, Group>>();
	private readonly subscriptions = new Map<string, Subscription>();

	override async connect(): Promise<void> {
		this.connected = true;
	}

	override async disconnect(): Promise<void> {
		this.connected = false;
	}

	override async subscribe(chan: Channel): Promise<void> {
		chan.maxInFlight ??= this.opts.maxInFlight;
		chan.maxRetries ??= this.opts.maxRetries;
		chan.deadLettering = { ...this.opts.deadLettering, ...chan.deadLettering };
		if (chan.deadLettering.enabled) chan.deadLettering.queueName = this.addPrefixTopic(chan.deadLettering.queueName);

		const sub: Subscription = { chan, head: undefined, tail: undefined, queued: 0, active: 0, closed: false };
		this.subscriptions.set(chan.id, sub);
		const groups = this.channels.get(chan.name) ?? new Map<string, Group>();
		this.channels.set(chan.name, groups);
		const group = groups.get(chan.group) ?? { members: [], turn: 0 };
		groups.set(chan.group, group);
		group.members.push(sub);
	}

	/** Stops taking this consumer's turn and delivers what it holds, for at most the broker's shutdown timeout. */
	override async unsubscribe(chan: Channel): Promise<void> {
		const sub = this.subscriptions.get(chan.id);
		if (!sub || chan.unsubscribing) return;
		chan.unsubscribing = true;
		const timeout = this.broker.options.tracking?.shutdownTimeout ?? 5_000;
		let timer: NodeJS.Timeout | undefined;
		await new Promise<void>((resolve) => {
			sub.onIdle = resolve;
			timer = setTimeout(resolve, timeout);
			this.settled(sub);
		});
		clearTimeout(timer);
		if (sub.queued > 0 || sub.active > 0) {
			const { queued, active } = sub;
			this.logger.warn(
				{ channel: chan.name, group: chan.group, queued, active },
				"channel consumer stopped before its messages were handled",
			);
		}
		sub.closed = true;
		sub.head = sub.tail = undefined;
		sub.queued = 0;
		this.subscriptions.delete(chan.id);
		const group = this.channels.get(chan.name)?.get(chan.group);
		if (group) group.members = group.members.filter((member) => member !== sub);
	}

	/** Accepted once every group of the channel holds the message. */
	override async publish(channelName: string, payload: unknown, opts: { headers?: Record<string, string> } = {}): Promise<void> {
		this.enqueue(channelName, JSON.stringify(payload), opts.headers);
	}

	override getNumberOfChannelActiveMessages(channelID: string): number {
		return this.subscriptions.get(channelID)?.active ?? 0;
	}

	private enqueue(channelName: string, data: string, headers: Record<string, string> | undefined): void {
		const groups = this.channels.get(channelName);
		if (!groups) {
			this.logger.debug({ channel: channelName }, "message to a channel without consumers dropped");
			return;
		}
		for (const group of groups.values()) {
			const sub = nextMember(group);
			if (sub) this.push(sub, { data, headers, deliveries: 0 });
		}
	}

	private push(sub: Subscription, message: InProcessMessage): void {
		if (sub.closed) return;
		const node: QueuedMessage = { message, next: undefined };
		if (sub.tail) sub.tail.next = node;
		else sub.head = node;
		sub.tail = node;
		sub.queued++;
		this.pump(sub);
	}

	private pump(sub: Subscription): void {
		while (sub.head && sub.active < (sub.chan.maxInFlight ?? 1)) {
			const { message } = sub.head;
			sub.head = sub.head.next;
			if (!sub.head) sub.tail = undefined;
			sub.queued--;
			sub.active++;
			void this.deliver(sub, message);
		}
	}

	private async deliver(sub: Subscription, message: InProcessMessage): Promise<void> {
		const { chan } = sub;
		message.deliveries++;
		try {
			await chan.handler(JSON.parse(message.data), message);
		} catch (err) {
			this.logger.error({ err, channel: chan.name, group: chan.group, deliveries: message.deliveries }, "channel message failed");
			this.metricsIncrement(METRIC.errors, chan);
			// As the NATS adapter counts: a message is delivered at most maxRetries times (once when 0).
			if (chan.maxRetries && message.deliveries < chan.maxRetries) {
				this.metricsIncrement(METRIC.retries, chan);
				this.push(sub, message);
			} else if (chan.deadLettering?.enabled) {
				this.moveToDeadLetter(chan, message);
			} else {
				this.logger.error({ channel: chan.name, group: chan.group }, "channel message dropped after its last delivery");
			}
		}
		sub.active--;
		this.pump(sub);
		this.settled(sub);
	}

	private moveToDeadLetter(chan: Channel, message: InProcessMessage): void {
		const queueName = chan.deadLettering?.queueName ?? "";
		this.enqueue(queueName, message.data, { [HEADER.originalChannel]: chan.name, [HEADER.originalGroup]: chan.group });
		this.metricsIncrement(METRIC.deadLettering, chan);
		this.logger.warn({ channel: chan.name, group: chan.group, queue: queueName }, "channel message moved to the dead-letter queue");
	}

	private settled(sub: Subscription): void {
		if (sub.onIdle && sub.queued === 0 && sub.active === 0) sub.onIdle();
	}
}

/** The group's members take turns; one that is unsubscribing only when no other is left (it still drains). */
function nextMember(group: Group): Subscription | undefined {
	const { members } = group;
	for (let i = 0; i < members.length; i++) {
		const member = members[(group.turn + i) % members.length] as Subscription;
		if (!member.chan.unsubscribing) {
			group.turn += i + 1;
			return member;
		}
	}
	return members[0];
}
