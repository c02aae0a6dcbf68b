import { AsyncLocalStorage } from "node:async_hooks";
import type { Context, Middleware } from "moleculer";

export interface RequestScope {
	requestId: string;
}

/**
 * The request being handled, wherever the code is (ARCHITECTURE rule 9): pino reads it for every
 * log line (see `loggerOptions`), so services log as usual and the id is there without passing it.
 */
export const requestScope = new AsyncLocalStorage<RequestScope>();

/** The id of the request being handled, or undefined outside one (start-up, timers). */
export const currentRequestId = (): string | undefined => requestScope.getStore()?.requestId;

type Handler = (ctx: Context, ...rest: unknown[]) => Promise<unknown>;

/** Runs each handler in the scope of its context's request id (one id from the gateway across every service). */
const scoped =
	(next: Handler): Handler =>
	(ctx, ...rest) => {
		// Channels without `context: true` hand the payload instead of a context: leave those alone.
		const requestId = typeof ctx?.requestID === "string" ? ctx.requestID : undefined;
		// A call made in this process while handling the same request is in its scope already.
		if (!requestId || requestScope.getStore()?.requestId === requestId) return next(ctx, ...rest);
		return requestScope.run({ requestId }, () => next(ctx, ...rest));
	};

/** Fills {@link requestScope} for actions, events and durable channel messages handled in this process. */
export function RequestContextMiddleware(): Middleware {
	return {
		name: "RequestContext",
		localAction: scoped,
		localEvent: scoped,
		localChannel: scoped,
	} as unknown as Middleware;
}
