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
export const TOUCH_INTERVAL_MS = 60_000;

/**
 * A new session. `fact(sessionId)` is a statement (an outbox row) written by the same statement as
 * the session, so that both or neither are stored, in one round trip.
 */
export async function startSession(
	db: Knex,
	accountId: string,
	policy: SessionPolicy,
	request: RequestInfo | undefined,
	fact: (sessionId: string) => Knex.QueryBuilder,
): Promise<{ token: string; sessionId: string }> {
	const token = newToken();
	const sessionId = randomUUID();
	await db
		.with("fact", fact(sessionId))
		.insert({
			id: sessionId,
			account_id: accountId,
			token_hash: sha256(token),
			expires_at: new Date(Date.now() + policy.absoluteHours * 3_600_000),
			user_agent: (request?.userAgent ?? "").slice(0, 500),
			ip: request?.ip ?? "",
		})
		.into(sessions);
	return { token, sessionId };
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
		if (!(await touchSession(db, session.id, now))) return undefined;
		session.last_used_at = new Date(now);
	}
	return session;
}

/** Stamps the last use; false when the session was revoked meanwhile. */
export async function touchSession(db: Knex, sessionId: string, now = Date.now()): Promise<boolean> {
	const touched = await db(sessions)
		.where({ id: sessionId })
		.whereNull("revoked_at")
		.update({ last_used_at: new Date(now) });
	return Number(touched) === 1;
}

/** The sessions a person can still use: not revoked, within both lifetimes, newest use first. */
export async function liveSessionsOf(db: Knex, accountId: string, policy: SessionPolicy): Promise<SessionRow[]> {
	const now = Date.now();
	return db<SessionRow>(sessions)
		.where({ account_id: accountId })
		.whereNull("revoked_at")
		.where("expires_at", ">", new Date(now))
		.where("last_used_at", ">", new Date(now - policy.idleMinutes * 60_000))
		.orderBy("last_used_at", "desc");
}

/**
 * Revokes sessions of one account: one (`only`), all but one (`except`), or all. Returns the token
 * hashes revoked, so that the caller can drop them from the session cache.
 */
export async function revokeSessions(
	db: Knex,
	accountId: string,
	which: { only: string } | { except: string } | "all",
): Promise<{ id: string; token_hash: string }[]> {
	const query = db(sessions).where({ account_id: accountId }).whereNull("revoked_at");
	if (which !== "all" && "only" in which) query.where({ id: which.only });
	if (which !== "all" && "except" in which) query.whereNot({ id: which.except });
	return query.update({ revoked_at: new Date() }).returning(["id", "token_hash"]);
}

export async function markReauthenticated(db: Knex, sessionId: string): Promise<void> {
	await db(sessions).where({ id: sessionId }).update({ reauthenticated_at: new Date() });
}

export const findSession = (db: Knex, sessionId: string): Promise<SessionRow | undefined> =>
	db<SessionRow>(sessions).where({ id: sessionId }).first();
