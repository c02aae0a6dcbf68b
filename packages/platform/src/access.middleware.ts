import type { Actor, StaffRole } from "@portal/contracts";
import type { Context, Middleware } from "moleculer";
import { Forbidden, Unauthorized } from "./errors";

/**
 * Authorization declared on the action (`access: …`) and enforced here, once, for every action
 * (ARCHITECTURE rules 3 and 4):
 * - `"public"`: anyone, signed in or not (sign-in, activation, password reset).
 * - `"signedIn"`: a customer or staff session.
 * - `"system"`: another OMTI system (the signed purchase webhook) or an internal job.
 * - `{ roles: [...] }`: staff holding one of the roles.
 * An action without `access` is internal: a call the gateway makes for an HTTP route carries the
 * {@link PUBLIC_CALL_HEADER} header (per call, never inherited by nested calls), and such a call to an
 * internal action is refused, whatever the routes say.
 */
export type Access = "public" | "signedIn" | "system" | { roles: StaffRole[] };

export const GATEWAY_SERVICE = "gateway";
export const PUBLIC_CALL_HEADER = "x-portal-public-route";

export function isAllowed(access: Access, actor: Actor | undefined): boolean {
	if (access === "public") return true;
	if (!actor) return false;
	if (access === "signedIn") return actor.kind === "account" || actor.kind === "staff";
	if (access === "system") return actor.kind === "system";
	return actor.kind === "staff" && actor.roles.some((role) => access.roles.includes(role));
}

export function AccessMiddleware(): Middleware {
	return {
		name: "Access",
		localAction(handler: (ctx: Context) => unknown, action: { access?: Access; name?: string }) {
			const access = action.access;
			return function checkAccess(ctx: Context<unknown, { actor?: Actor }>) {
				if (access === undefined) {
					if (ctx.headers?.[PUBLIC_CALL_HEADER]) throw new Forbidden("This action is not public.", "NOT_PUBLIC");
					return handler(ctx);
				}
				if (!isAllowed(access, ctx.meta.actor)) {
					throw ctx.meta.actor ? new Forbidden() : new Unauthorized();
				}
				return handler(ctx);
			};
		},
	} as Middleware;
}
