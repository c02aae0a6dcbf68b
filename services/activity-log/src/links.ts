import { randomBytes } from "node:crypto";
import type { Knex } from "@portal/platform";

const LINKS = "activity_log.links";

export interface LinkRow {
	code: string;
	account_id: string | null;
	link_id: string;
	href: string;
	created_at: Date;
}

/**
 * A mail link may only lead to the portal itself or a host on the allow-list, over http(s):
 * `/l/:code` must never become an open redirect, even for a code that was stored earlier and whose
 * host has since been taken off the list (checked again when followed).
 */
export function isAllowedTarget(href: string, publicUrl: string, allowedHosts: readonly string[]): boolean {
	let url: URL;
	try {
		url = new URL(href);
	} catch {
		return false;
	}
	if (url.protocol !== "https:" && url.protocol !== "http:") return false;
	if (url.username || url.password) return false;
	const host = url.hostname.toLowerCase();
	if (host === new URL(publicUrl).hostname.toLowerCase()) return true;
	return allowedHosts.some((allowed) => host === allowed.toLowerCase());
}

/** 16 random bytes: codes cannot be guessed or enumerated to learn someone's links. */
export async function createLink(db: Knex, link: { accountId?: string; linkId: string; href: string }): Promise<string> {
	const code = randomBytes(16).toString("base64url");
	await db(LINKS).insert({ code, account_id: link.accountId ?? null, link_id: link.linkId, href: link.href });
	return code;
}

export async function findLink(db: Knex, code: string): Promise<LinkRow | undefined> {
	return db<LinkRow>(LINKS).where({ code }).first();
}
