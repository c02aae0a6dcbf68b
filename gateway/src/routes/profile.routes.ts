import type { IncomingMessage, ServerResponse } from "node:http";
import type { PortalMeta } from "@portal/contracts";
import type { Context } from "moleculer";

type Req = IncomingMessage & { $ctx?: Context<unknown, PortalMeta & { request?: { ifMatch?: string } }> };

/**
 * PATCH needs the `If-Match` header (R9: no lost update). The gateway's request facts do not carry
 * it, so these aliases put it there first (moleculer-web runs an alias' functions after
 * `onBeforeCall`, then calls the action). When the gateway forwards `ifMatch` itself, these become
 * plain action names.
 */
function withIfMatch(action: string): string {
	const forward = (req: Req, _res: ServerResponse, next: () => void) => {
		const header = req.headers["if-match"];
		if (req.$ctx?.meta.request && typeof header === "string") req.$ctx.meta.request.ifMatch = header;
		next();
	};
	return [forward, action] as unknown as string;
}

/** profile's public routes (API.md). Keys are moleculer-web aliases relative to the group's path. */
export const profileRoutes: Record<string, string> = {
	"GET /profiles/me": "profile.getMine",
	"PATCH /profiles/me": withIfMatch("profile.updateMine"),
	"GET /profiles/me/revisions": "profile.revisions",
	"POST /profiles/me/email/confirm": "profile.confirmEmail",
	"GET /profiles/:accountId": "profile.getShared",
	"PATCH /profiles/:accountId": withIfMatch("profile.updateShared"),
	/** The privacy ledger lives with the profile reads it records (see services/profile). */
	"GET /shares/ledger": "profile.ledger",
};
