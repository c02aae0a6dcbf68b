import { randomUUID } from "node:crypto";
import { Channels } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import { SMTPServer } from "smtp-server";
import { eventually, freePort, purchaseEvent, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { MAX_ATTEMPTS, retryDelayMs } from "../src/delivery";

interface Received {
	to: string[];
	raw: string;
}

/** A real SMTP server in this process: refuses the first `refusals` messages with 421, or rejects with 550. */
async function startSmtp(behaviour: { refusals?: number; rejectTo?: string }) {
	const received: Received[] = [];
	let refusals = behaviour.refusals ?? 0;
	const server = new SMTPServer({
		authOptional: true,
		disabledCommands: ["STARTTLS"],
		logger: false,
		onRcptTo(address, _session, callback) {
			if (address.address === behaviour.rejectTo) return callback(Object.assign(new Error("No such mailbox"), { responseCode: 550 }));
			callback();
		},
		onData(stream, session, callback) {
			const chunks: Buffer[] = [];
			stream.on("data", (c: Buffer) => chunks.push(c));
			stream.on("end", () => {
				if (refusals > 0) {
					refusals -= 1;
					return callback(Object.assign(new Error("Try again later"), { responseCode: 421 }));
				}
				received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString("utf8") });
				callback();
			});
		},
	});
	const port = await freePort();
	await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
	return { received, url: `smtp://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("communications: delivery through SMTP", () => {
	let portal: TestPortal;
	let smtp: Awaited<ReturnType<typeof startSmtp>>;
	let db: Knex;

	beforeAll(async () => {
		smtp = await startSmtp({ refusals: 2, rejectTo: "nobody@bounce.example" });
		portal = await startTestPortal({ env: { SMTP_URL: smtp.url } });
		db = (portal.broker.getLocalService("communications") as unknown as { db: Knex }).db;
	});
	afterAll(async () => {
		await portal?.stop();
		await smtp?.close();
	});

	it("R21: an SMTP server that refuses for a while then accepts gets every mail exactly once", async () => {
		const emails = ["one@example.com", "two@example.com", "three@example.com"];
		for (const email of emails) await portal.purchase(purchaseEvent({ email, product: "RB9" }));
		await eventually(async () => (smtp.received.length >= 3 ? true : undefined), "three delivered mails", 30_000);
		await new Promise((resolve) => setTimeout(resolve, 1_500));
		expect(smtp.received.map((m) => m.to[0]).sort()).toEqual([...emails].sort());
		const rows = await db("communications.mails").select("status", "attempts", "text_body");
		expect(rows.every((r: { status: string }) => r.status === "sent")).toBe(true);
		expect(rows.reduce((sum: number, r: { attempts: number }) => sum + r.attempts, 0)).toBe(5);
		// The single-use link left with the mail; the stored copy no longer holds it.
		expect(rows.every((r: { text_body: string | null }) => r.text_body === null)).toBe(true);
	});

	it("R21: each mail carries its idempotency key as Message-ID, from the service sender", async () => {
		const mail = smtp.received[0]?.raw ?? "";
		expect(mail).toMatch(/^Message-ID: <welcome_[0-9a-f-]+@portal\.omti>/im);
		expect(mail).toMatch(/^From: OMTI Customer Portal <portal@omti\.example>/im);
		expect(mail).not.toMatch(/password:/i);
	});

	it("R21: a permanent refusal (5xx) marks the mail bounced instead of retrying", async () => {
		await portal.purchase(purchaseEvent({ email: "nobody@bounce.example", product: "RB9" }));
		const row = await eventually(async () => {
			const r = await db("communications.mails").where({ to_address: "nobody@bounce.example" }).first();
			return r?.status === "bounced" ? r : undefined;
		}, "the bounce");
		expect(row.attempts).toBe(1);
		expect(row.last_error).toMatch(/No such mailbox/);
	});

	it("R21: /metrics counts mails sent and mails given up; passing refusals are not counted as either", async () => {
		const metric = async (name: string) => {
			const text = String((await portal.request("GET", "/metrics")).body);
			return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1]);
		};
		// The three welcome mails above (two 421 refusals on the way) and the one bounce.
		await eventually(async () => ((await metric("portal_mails_failed_total")) === 1 ? true : undefined), "the failed count");
		expect(await metric("portal_mails_sent_total")).toBe(3);
	});

	it("R1: the dev mailbox is not served when mail really goes out", async () => {
		expect((await portal.request("GET", "/api/v1/dev/mailbox")).status).toBe(404);
	});

	it("R20: a marketing mail leaves from the marketing sender with RFC 8058 one-click headers and a visible link", async () => {
		const email = "offers@example.com";
		await portal.purchase(purchaseEvent({ email, product: "RB9" }));
		const welcome = await eventually(async () => smtp.received.find((m) => m.to[0] === email), "the welcome mail");
		const activationToken = /activate\?token=3D([A-Za-z0-9_-]+)/.exec(welcome.raw.replace(/=\r\n/g, ""))?.[1];
		const activated = await portal.request("POST", "/api/v1/auth/activate", {
			body: { token: activationToken, password: "correct horse battery staple 42" },
		});
		expect(activated.status).toBe(200);
		const { token, account } = activated.body;
		const optIn = await portal.request("PUT", "/api/v1/preferences/communications", {
			body: { marketing: { email: true } },
			headers: { Authorization: `Bearer ${token}` },
		});
		expect(optIn.status).toBe(200);
		await portal.broker.sendToChannel(Channels.mailRequested, {
			messageId: randomUUID(),
			occurredAt: new Date().toISOString(),
			idempotencyKey: `offer-test:${account.id}`,
			accountId: account.id,
			to: email,
			template: "marketing-offer",
			data: {
				name: "Ann",
				subject: "An offer",
				message: "Twenty percent off.",
				offerUrl: "https://omti.example/offer",
				productName: "RB9",
			},
		});
		const mail = await eventually(async () => smtp.received.find((m) => m.to[0] === email && /An offer/.test(m.raw)), "the offer");
		const unfolded = mail.raw.replace(/\r\n[ \t]+/g, " ");
		expect(unfolded).toMatch(/^From: OMTI News <news@omti\.example>/im);
		expect(unfolded).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/im);
		const url = /^List-Unsubscribe: <(https?:\/\/[^>]+\/api\/v1\/unsubscribe\?token=[^>]+)>/im.exec(unfolded)?.[1];
		expect(url).toBeDefined();
		// The text part (quoted-printable) shows the same link.
		const text = unfolded.replace(/=\r\n/g, "").replace(/=3D/g, "=");
		expect(text).toContain(url);
	});

	it("R21: a burst of mails is delivered exactly once each; throughput and retry schedule", async () => {
		const count = 200;
		const before = smtp.received.length;
		const started = Date.now();
		// Straight into the outbox (what the channel consumers do), so that only delivery is measured.
		const service = portal.broker.getLocalService("communications") as unknown as { queue(mail: object): Promise<unknown> };
		for (let i = 0; i < count; i++) {
			await service.queue({
				idempotencyKey: `burst:${i}`,
				to: `burst${i}@example.com`,
				template: "product-added",
				data: { username: `burst${i}`, productName: "RB9", portalUrl: "https://portal.omti.example" },
			});
		}
		await eventually(async () => (smtp.received.length - before >= count ? true : undefined), `${count} delivered mails`, 60_000);
		const seconds = (Date.now() - started) / 1000;
		await new Promise((resolve) => setTimeout(resolve, 1_000));
		const burst = smtp.received.slice(before).map((m) => m.to[0]);
		expect(new Set(burst).size).toBe(count);
		expect(burst).toHaveLength(count);
		const schedule = Array.from({ length: MAX_ATTEMPTS - 1 }, (_, i) => retryDelayMs(i + 1) / 1000);
		expect(seconds).toBeLessThan(60);
		console.info(
			`R21: ${count} mails in ${seconds.toFixed(2)} s = ${(count / seconds).toFixed(0)} mails/s to the in-process SMTP server; retry delays (s): ${schedule.join(", ")}`,
		);
	}, 90_000);
});
