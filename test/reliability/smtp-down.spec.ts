import { knex } from "knex";
import { SMTPServer } from "smtp-server";
import { describeInfra } from "../support/infra";
import { eventually, freePort, purchaseEvent, startTestPortal, type TestPortal } from "../support/portal";
import { type FaultServer, faultInfra, postgresServer } from "./servers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An SMTP server in this process that records every accepted message by Message-ID. */
function smtpSink(port: number, received: { messageId: string; to: string }[]): Promise<SMTPServer> {
	const server = new SMTPServer({
		authOptional: true,
		disabledCommands: ["STARTTLS", "AUTH"],
		logger: false,
		onData(stream, session, callback) {
			let raw = "";
			stream.on("data", (chunk: Buffer) => {
				raw += chunk.toString("utf8");
			});
			stream.on("end", () => {
				const messageId = /^Message-ID:\s*(<[^>]+>)/im.exec(raw)?.[1] ?? "(none)";
				for (const rcpt of session.envelope.rcptTo) received.push({ messageId, to: rcpt.address.toLowerCase() });
				callback();
			});
		},
	});
	return new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, "127.0.0.1", () => resolve(server));
	});
}

const closeSink = (server: SMTPServer) => new Promise<void>((resolve) => server.close(() => resolve()));

/**
 * R21 with the mail server gone: mails queued while SMTP refuses connections are retried with
 * backoff and delivered exactly once after it returns (one message per idempotency key).
 */
describeInfra("fault: SMTP down", () => {
	let postgres: FaultServer;
	let portal: TestPortal;
	let smtp: SMTPServer | undefined;
	let smtpPort: number;
	const received: { messageId: string; to: string }[] = [];

	beforeAll(async () => {
		postgres = await postgresServer();
		smtpPort = await freePort();
		smtp = await smtpSink(smtpPort, received);
		portal = await startTestPortal({ infra: faultInfra({ postgres }), env: { SMTP_URL: `smtp://127.0.0.1:${smtpPort}` } });
	}, 60_000);

	afterAll(async () => {
		await portal?.stop();
		if (smtp) await closeSink(smtp);
		await postgres?.destroy();
	}, 30_000);

	it("R21: mails queued while SMTP is down are delivered exactly once after it returns", async () => {
		const tag = portal.config.namespace;
		const emails = Array.from({ length: 24 }, (_, i) => `smtp-${tag}-${i}@example.com`);
		const mine = () => received.filter((m) => emails.includes(m.to));
		const buy = async (email: string) => {
			const res = await portal.purchase(purchaseEvent({ email, product: "RB9" }));
			expect(res.status).toBe(202);
		};

		await Promise.all(emails.slice(0, 4).map(buy));
		await eventually(async () => (mine().length >= 4 ? true : undefined), "mails before the outage", 20_000);

		await closeSink(smtp as SMTPServer);
		smtp = undefined;
		await Promise.all(emails.slice(4).map(buy));
		// The portal tried and failed while the server was away: mails wait with a retry time.
		const db = knex({ client: "pg", connection: postgres.url, pool: { min: 0, max: 1 } });
		try {
			const waiting = await eventually(
				async () => {
					const rows = await db("communications.mails")
						.whereIn("to_address", emails.slice(4))
						.where("attempts", ">", 0)
						.whereNot("status", "sent");
					return rows.length === emails.length - 4 ? rows.length : undefined;
				},
				"failed attempts while SMTP is down",
				20_000,
			);
			expect(waiting).toBe(emails.length - 4);
			await pause(1_000);

			smtp = await smtpSink(smtpPort, received);
			await eventually(async () => (mine().length >= emails.length ? true : undefined), "every mail after SMTP returns", 45_000);
			// Give a duplicate (a retry of an already accepted mail) time to show up.
			await pause(3_000);
			const statuses = await db("communications.mails").whereIn("to_address", emails).select("status");
			expect(statuses.every((row: { status: string }) => row.status === "sent")).toBe(true);
		} finally {
			await db.destroy();
		}
		const perMessage = new Map<string, number>();
		for (const m of mine()) perMessage.set(m.messageId, (perMessage.get(m.messageId) ?? 0) + 1);
		const duplicates = [...perMessage.values()].filter((n) => n > 1).length;
		process.stdout.write(
			`\nSMTP down: ${emails.length} mails (${emails.length - 4} queued in the outage), ${perMessage.size} delivered, ${duplicates} duplicated, ${emails.length - new Set(mine().map((m) => m.to)).size} lost\n`,
		);
		expect(new Set(mine().map((m) => m.to)).size).toBe(emails.length);
		expect(perMessage.size).toBe(emails.length);
		expect(duplicates).toBe(0);
	}, 120_000);
});
