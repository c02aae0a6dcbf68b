export type StaffRole = "support" | "compliance" | "admin";
export const STAFF_ROLES: readonly StaffRole[] = ["support", "compliance", "admin"];

/** Who is behind a call. The gateway puts it on `ctx.meta.actor`; services authorize against it. */
export type Actor =
	| { kind: "account"; id: string; roles: []; sessionId: string }
	| { kind: "staff"; id: string; roles: StaffRole[]; sessionId: string }
	| { kind: "system"; id: string; roles: []; sessionId?: undefined };

/** Facts about the HTTP request that services record as evidence (revisions, consents, sessions). */
export interface RequestInfo {
	ip: string;
	userAgent: string;
	requestId: string;
	/** The browser sent `Sec-GPC: 1` (Global Privacy Control, R24). */
	gpc: boolean;
}

export interface PortalMeta {
	actor?: Actor;
	request?: RequestInfo;
	/** Set by identity when a session starts or ends; the gateway turns it into cookies. */
	$session?: { token: string; maxAgeSeconds: number } | { ended: true };
	$statusCode?: number;
	$responseHeaders?: Record<string, string>;
	$responseType?: string;
}
