import type { Knex } from "@portal/platform";
import { eventually, type Mail, purchaseEvent, staffSession, type TestPortal } from "../../../test/support/portal";
import type { Clock } from "../src";

export const PASSWORD = "correct horse battery staple 42";

export interface Session {
	id: string;
	token: string;
	headers: Record<string, string>;
}

export const bearer = (token: string, extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${token}`, ...extra });

/** A customer: bought `product` (from `region`, if given), activated from the welcome mail, signed in. */
export async function customer(portal: TestPortal, email: string, opts: { region?: string; product?: string } = {}): Promise<Session> {
	const res = await portal.purchase(purchaseEvent({ email, product: opts.product ?? "RB9", region: opts.region }));
	if (res.status !== 202) throw new Error(`purchase failed: ${res.status} ${JSON.stringify(res.body)}`);
	const [welcome] = await portal.mailsFor(email);
	const token = new URL(welcome?.links[0] ?? "").searchParams.get("token");
	const activated = await portal.request("POST", "/api/v1/auth/activate", { body: { token, password: PASSWORD } });
	if (activated.status !== 200) throw new Error(`activation failed: ${activated.status} ${JSON.stringify(activated.body)}`);
	await registered(portal, activated.body.account.id);
	return { id: activated.body.account.id, token: activated.body.token, headers: bearer(activated.body.token) };
}

/** A staff member the way operators make one (`npm run staff` calls identity.createStaff), then signed in. */
export async function staff(portal: TestPortal, email: string, role: "compliance" | "support" = "compliance"): Promise<Session> {
	const { id, token } = await staffSession(portal, email, role, PASSWORD);
	return { id, token, headers: bearer(token) };
}

interface ComplianceInternals {
	db: Knex;
	clock: Clock;
	noticeBatchSize: number;
	runNoticeJobs(): Promise<void>;
	purgeExpiredRequests(): Promise<number>;
}

export const compliance = (portal: TestPortal) => portal.broker.getLocalService("compliance") as unknown as ComplianceInternals;

/** Moves compliance's clock (CCPA limits and due dates) to `at`, without waiting. */
export function setClock(portal: TestPortal, at: Date | (() => Date)): void {
	compliance(portal).clock = { now: typeof at === "function" ? at : () => new Date(at.getTime()) };
}

/** Waits until compliance has the account in its registry (the account-created channel). */
export async function registered(portal: TestPortal, accountId: string): Promise<void> {
	const db = compliance(portal).db;
	const deadline = Date.now() + 15_000;
	while (!(await db("compliance.accounts").where({ account_id: accountId }).first())) {
		if (Date.now() > deadline) throw new Error("the account never reached compliance");
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

/** Waits for the newest mail to `to` made from `template`. */
export async function mailWith(portal: TestPortal, to: string, template: string): Promise<Mail> {
	return eventually(async () => (await portal.mailsFor(to)).find((m) => m.template === template), `a ${template} mail to ${to}`);
}
