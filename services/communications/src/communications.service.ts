import {
	type AccountCreatedMessage,
	Channels,
	type MailRequestedMessage,
	type PortalMeta,
	type ProductAddedMessage,
} from "@portal/contracts";
import { Database, type DatabaseThis, defineService, isMailCaptured, NotFound, portalConfig } from "@portal/platform";
import type { Context } from "moleculer";
import { migrations } from "../migrations";
import { createSender, deliverDue, type MailSender } from "./delivery";
import { capturedFor, enqueueMail, type NewMail } from "./mails.repo";
import { templates } from "./templates";

type QueueRequest = Omit<NewMail, "from" | "rendered"> & { data: Record<string, string> };

interface Vars {
	sender: MailSender;
	deliveryTimer?: NodeJS.Timeout;
	deliveryRun?: Promise<number>;
	queue(mail: QueueRequest): Promise<void>;
	deliver(): Promise<number>;
}
type CommunicationsThis = DatabaseThis & Vars;

const DELIVERY_INTERVAL_MS = 500;

/** Pulls the absolute links out of a mail's text, for the mailbox (scripts and tests follow them). */
const linksOf = (text: string | null): string[] => [...(text ?? "").matchAll(/https?:\/\/[^\s<>"]+/g)].map((m) => m[0]);

const CommunicationsService = defineService<CommunicationsThis>({
	name: "communications",
	mixins: [Database({ schema: "communications", migrations })],

	actions: {
		/** Embedded mode's captured mail (API.md `GET /api/v1/dev/mailbox`); refused when mail really goes out. */
		devMailbox: {
			access: "public",
			params: {
				to: { type: "email", optional: true },
				limit: { type: "number", integer: true, min: 1, max: 200, optional: true, convert: true },
			},
			async handler(ctx: Context<{ to?: string; limit?: number }, PortalMeta>) {
				const config = portalConfig(this.broker);
				if (!isMailCaptured(config) || config.nodeEnv === "production") throw new NotFound();
				const rows = await capturedFor(this.db, ctx.params.to, ctx.params.limit ?? 50);
				return rows.map((m) => ({
					to: m.to_address,
					from: m.from_address,
					subject: m.subject,
					text: m.text_body,
					html: m.html_body,
					headers: m.headers,
					links: linksOf(m.text_body),
					kind: m.kind,
					template: m.template,
					sentAt: m.sent_at,
				}));
			},
		},
	},

	channels: {
		[Channels.accountCreated]: {
			group: "communications",
			context: true,
			async handler(ctx: Context<AccountCreatedMessage>) {
				const m = ctx.params;
				const config = portalConfig(this.broker);
				await this.queue({
					idempotencyKey: `welcome:${m.messageId}`,
					accountId: m.accountId,
					template: "welcome",
					to: m.email,
					data: {
						name: m.givenName ?? m.username,
						username: m.username,
						productName: m.product.name,
						activationUrl: `${config.publicUrl}/activate?token=${encodeURIComponent(m.activationToken)}`,
						expiresAt: new Date(m.activationExpiresAt).toUTCString(),
					},
				});
			},
		},
		[Channels.mailRequested]: {
			group: "communications",
			context: true,
			async handler(ctx: Context<MailRequestedMessage>) {
				const { idempotencyKey, accountId, to, template, data } = ctx.params;
				await this.queue({ idempotencyKey, accountId, to, template, data });
			},
		},
		[Channels.productAdded]: {
			group: "communications",
			context: true,
			async handler(ctx: Context<ProductAddedMessage>) {
				const m = ctx.params;
				await this.queue({
					idempotencyKey: `product-added:${m.messageId}`,
					accountId: m.accountId,
					template: "product-added",
					to: m.email,
					data: { username: m.username, productName: m.product.name, portalUrl: portalConfig(this.broker).publicUrl },
				});
			},
		},
	},

	methods: {
		/** Renders and queues a mail once per idempotency key; delivery happens in the background. */
		async queue({ data, ...mail }: QueueRequest) {
			const template = templates.get(mail.template);
			if (!template) throw new Error(`unknown mail template '${mail.template}'`);
			const rendered = template.render(data);
			const { mailFrom } = portalConfig(this.broker);
			const from = rendered.kind === "marketing" ? mailFrom.marketing : mailFrom.service;
			if (await enqueueMail(this.db, { ...mail, rendered, from })) void this.deliver().catch(() => undefined);
		},

		/** One delivery pass at a time per replica; replicas share the queue through row locks. */
		deliver(): Promise<number> {
			if (!this.deliveryRun) {
				this.deliveryRun = deliverDue(this.db, this.sender).finally(() => {
					this.deliveryRun = undefined;
				});
			}
			return this.deliveryRun;
		},
	},

	created() {
		this.sender = createSender(portalConfig(this.broker).smtpUrl);
	},

	started() {
		const tick = () => {
			this.deliver()
				.catch((err) => this.logger.warn({ err: String(err) }, "mail delivery pass failed; will retry"))
				.finally(() => {
					if (this.deliveryTimer) this.deliveryTimer = setTimeout(tick, DELIVERY_INTERVAL_MS);
				});
		};
		this.deliveryTimer = setTimeout(tick, DELIVERY_INTERVAL_MS);
	},

	async stopped() {
		clearTimeout(this.deliveryTimer);
		this.deliveryTimer = undefined;
		await this.deliveryRun?.catch(() => undefined);
		this.sender.close();
	},
});

export default CommunicationsService;
