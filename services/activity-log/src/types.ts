import type { UsageKind } from "@portal/contracts";

export interface UsageRecord {
	messageId: string;
	accountId: string;
	kind: UsageKind;
	at: Date;
	detail: Record<string, string>;
}

export interface UsageRow {
	id: string;
	message_id: string;
	account_id: string;
	kind: UsageKind;
	at: Date;
	detail: Record<string, string>;
}

export interface AuditRow {
	account_id: string;
	seq: number;
	message_id: string;
	action: string;
	actor: { kind: string; id: string };
	at: Date;
	detail: Record<string, unknown>;
	prev_hash: string;
	hash: string;
	recorded_at: Date;
}

export interface AuditInput {
	messageId: string;
	accountId: string;
	action: string;
	actor: { kind: string; id: string };
	at: Date;
	detail: Record<string, unknown>;
}

export interface LegalHoldRow {
	id: string;
	account_id: string;
	reason: string;
	placed_by: string;
	placed_at: Date;
	lifted_by: string | null;
	lifted_at: Date | null;
}

export interface CountPair {
	total: number;
	last30Days: number;
}

export interface ActivitySummary {
	signIns: CountPair;
	failedSignIns: CountPair;
	linkClicks: CountPair;
	retentionDays: number;
	recent: { kind: UsageKind; at: string; detail: Record<string, string> }[];
	/** One entry per UTC day of the last 30, oldest first, zeros included (for a chart). */
	daily: { day: string; signIns: number; failedSignIns: number; linkClicks: number }[];
}

export interface PurgeOutcome {
	ran: boolean;
	reason?: string;
	cutoff?: string;
	usageDeleted?: number;
	countersDeleted?: number;
	linksDeleted?: number;
	heldAccounts?: number;
}
