import { randomUUID } from "node:crypto";
import type { RequestInfo } from "@portal/contracts";
import { type Knex, newToken, sha256 } from "@portal/platform";
import type { SessionRow } from "./types";

const sessions = "identity.sessions";

export interface SessionPolicy {
	idleMinutes: number;
	absoluteHours: number;
}

/** Last-use stamps are written at most this often, so a busy session does not write on every request. */
const TOUCH_INTERVAL_MS = 60_000;

export async function startSession(
	db: Knex,
	accountId: string,
	policy: SessionPolicy,
	request: RequestInfo | undefined,
): Promise<{ token: string; session: SessionRow }> {
	const token = newToken();
	const [session] = await db<SessionRow>(sessions)
		.insert({
			id: randomUUID(),
			account_id: accountId,
			token_hash: sha256(token),
			expires_at: new Date(Date.now() + policy.absoluteHours * 3_600_000),
			user_agent: (request?.userAgent ?? "").slice(0, 500),
			ip: request?.ip ?? "",
		})
		.returning("*");
	return { token, session: session as SessionRow };
}

/** The live session for a token: not revoked, within its absolute lifetime and idle timeout. */
export async function liveSession(db: Knex, token: string, policy: SessionPolicy): Promise<SessionRow | undefined> {
	const now = Date.now();
	const session = await db<SessionRow>(sessions)
		.where({ token_hash: sha256(token) })
		.whereNull("revoked_at")
		.first();
	if (!session) return undefined;
	const idleDeadline = new Date(session.last_used_at).getTime() + policy.idleMinutes * 60_000;
	if (new Date(session.expires_at).getTime() <= now || idleDeadline <= now) return undefined;
	if (now - new Date(session.last_used_at).getTime() > TOUCH_INTERVAL_MS) {
		await db(sessions)
			.where({ id: session.id })
			.update({ last_used_at: new Date(now) });
	}
	return session;
}

export async function revokeSession(db: Knex, sessionId: string): Promise<void> {
	await db(sessions).where({ id: sessionId }).whereNull("revoked_at").update({ revoked_at: new Date() });
}
