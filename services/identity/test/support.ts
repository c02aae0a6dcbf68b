import { type AuditRecordedMessage, Channels, type UsageRecordedMessage } from "@portal/contracts";
import type { Knex } from "@portal/platform";
import type { TestPortal, TestResponse } from "../../../test/support/portal";

/** Listens on the usage and audit channels in its own consumer group, as the activity log would. */
export function channelProbe(portal: TestPortal): { usage: UsageRecordedMessage[]; audit: AuditRecordedMessage[] } {
	const usage: UsageRecordedMessage[] = [];
	const audit: AuditRecordedMessage[] = [];
	const group = `identity-probe-${Math.random().toString(36).slice(2, 8)}`;
	portal.broker.createService({
		name: group,
		channels: {
			[Channels.usageRecorded]: { group, context: true, handler: (ctx: { params: UsageRecordedMessage }) => void usage.push(ctx.params) },
			[Channels.auditRecorded]: { group, context: true, handler: (ctx: { params: AuditRecordedMessage }) => void audit.push(ctx.params) },
		},
	});
	return { usage, audit };
}

export const identityDb = (portal: TestPortal): Knex => (portal.broker.getLocalService("identity") as unknown as { db: Knex }).db;

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

export const signIn = (portal: TestPortal, login: string, password: string, totp?: string): Promise<TestResponse> =>
	portal.request("POST", "/api/v1/auth/sign-in", { body: { login, password, ...(totp ? { totp } : {}) } });

/** The parts of a problem answer that must not differ between "no such user" and "wrong password". */
export const visible = (res: TestResponse) => ({
	status: res.status,
	type: res.body?.type,
	title: res.body?.title,
	detail: res.body?.detail,
	code: res.body?.code,
});
