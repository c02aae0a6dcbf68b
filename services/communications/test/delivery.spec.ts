import type { Knex } from "@portal/platform";
import { SMTPServer } from "smtp-server";
import { eventually, freePort, purchaseEvent, startTestPortal, type TestPortal } from "../../../test/support/portal";

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

	it("R1: the dev mailbox is not served when mail really goes out", async () => {
		expect((await portal.request("GET", "/api/v1/dev/mailbox")).status).toBe(404);
	});
});
