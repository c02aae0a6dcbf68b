import { type Knex, sha256 } from "@portal/platform";
import type { AuditInput, AuditRow } from "./types";

const ENTRIES = "activity_log.audit_entries";
const HEADS = "activity_log.audit_heads";

/** The hash that starts every chain (the "previous hash" of entry 1). */
export const GENESIS = "0".repeat(64);

/** JSON with object keys sorted at every level and no whitespace: the same entry always gives the same text. */
export function canonicalJson(value: unknown): string {
	if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
	if (value instanceof Date) return JSON.stringify(value.toISOString());
	if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
	const entries = Object.entries(value as Record<string, unknown>)
		.filter(([, v]) => v !== undefined)
		.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
	return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** What the hash covers: every column that says what happened, plus its place in the chain. */
export function entryHash(
	prevHash: string,
	row: Pick<AuditRow, "account_id" | "seq" | "message_id" | "action" | "actor" | "at" | "detail">,
): string {
	const body = {
		accountId: row.account_id,
		seq: row.seq,
		messageId: row.message_id,
		action: row.action,
		actor: row.actor,
		at: new Date(row.at).toISOString(),
		detail: row.detail,
	};
	return sha256(prevHash + canonicalJson(body));
}

/**
 * Appends one entry to its account's chain. The head row is locked for the transaction, so
 * concurrent writers (other messages, other replicas) queue up instead of forking the chain; the
 * duplicate check runs under that lock, so a message delivered twice is appended once.
 */
export async function appendAudit(trx: Knex.Transaction, entry: AuditInput): Promise<AuditRow | null> {
	await trx(HEADS).insert({ account_id: entry.accountId, seq: 0, hash: GENESIS }).onConflict("account_id").ignore();
	const head: { seq: number; hash: string } = await trx(HEADS).where({ account_id: entry.accountId }).forUpdate().first("seq", "hash");
	const seen = await trx(ENTRIES).where({ message_id: entry.messageId }).first("seq");
	if (seen) return null;
	const row = {
		account_id: entry.accountId,
		seq: head.seq + 1,
		message_id: entry.messageId,
		action: entry.action,
		actor: { kind: entry.actor.kind, id: entry.actor.id },
		at: new Date(entry.at),
		detail: entry.detail,
		prev_hash: head.hash,
	};
	const hash = entryHash(head.hash, row);
	await trx(ENTRIES).insert({ ...row, actor: JSON.stringify(row.actor), detail: JSON.stringify(row.detail), hash });
	await trx(HEADS).where({ account_id: entry.accountId }).update({ seq: row.seq, hash });
	return { ...row, hash, recorded_at: new Date() };
}

/** One account's entries, newest first, keyset-paged by `seq`. */
export function auditPage(db: Knex, accountId: string, beforeSeq: number | undefined, limit: number): Promise<AuditRow[]> {
	const query = db<AuditRow>(ENTRIES).where({ account_id: accountId }).orderBy("seq", "desc").limit(limit);
	if (beforeSeq !== undefined) query.where("seq", "<", beforeSeq);
	return query;
}

export interface BrokenLink {
	accountId: string;
	seq: number;
	problem: string;
}

export interface VerifyReport {
	chains: number;
	entries: number;
	broken: BrokenLink[];
}

const PAGE = 1_000;

/**
 * Walks every chain in order (keyset pages, never the whole table at once) and reports the first
 * broken link of each: a changed entry, a removed or inserted one, a rewritten head.
 */
export async function verifyAuditChains(db: Knex): Promise<VerifyReport> {
	const report: VerifyReport = { chains: 0, entries: 0, broken: [] };
	let after: { accountId: string; seq: number } | undefined;
	let current: { accountId: string; seq: number; hash: string; broken: boolean } | undefined;
	const closeChain = async () => {
		if (!current || current.broken) return;
		const head = await db(HEADS).where({ account_id: current.accountId }).first("seq", "hash");
		if (!head || head.seq !== current.seq || head.hash !== current.hash) {
			report.broken.push({
				accountId: current.accountId,
				seq: current.seq,
				problem: "the chain's head does not match its last entry (entries removed from the end?)",
			});
		}
	};
	for (;;) {
		const query = db<AuditRow>(ENTRIES)
			.orderBy([{ column: "account_id" }, { column: "seq" }])
			.limit(PAGE);
		if (after) query.whereRaw("(account_id, seq) > (?, ?)", [after.accountId, after.seq]);
		const rows = await query;
		for (const row of rows) {
			report.entries += 1;
			if (current?.accountId !== row.account_id) {
				await closeChain();
				report.chains += 1;
				current = { accountId: row.account_id, seq: 0, hash: GENESIS, broken: false };
			}
			if (current.broken) continue;
			const problem =
				row.seq !== current.seq + 1
					? `expected entry ${current.seq + 1}, found ${row.seq} (an entry is missing)`
					: row.prev_hash !== current.hash
						? "its previous hash does not match the entry before it"
						: entryHash(row.prev_hash, row) !== row.hash
							? "its content does not match its hash (the entry was changed)"
							: null;
			if (problem) {
				current.broken = true;
				report.broken.push({ accountId: row.account_id, seq: row.seq, problem });
				continue;
			}
			current.seq = row.seq;
			current.hash = row.hash;
		}
		const last = rows[rows.length - 1];
		if (!last || rows.length < PAGE) break;
		after = { accountId: last.account_id, seq: last.seq };
	}
	await closeChain();
	const orphanHeads = await db(HEADS)
		.where("seq", ">", 0)
		.whereNotExists(db(ENTRIES).whereRaw("audit_entries.account_id = audit_heads.account_id").select(db.raw("1")))
		.select("account_id", "seq");
	for (const head of orphanHeads)
		report.broken.push({ accountId: head.account_id, seq: 1, problem: "every entry of the chain is missing" });
	return report;
}
