import type { IncomingMessage, ServerResponse } from "node:http";

/** Headers on every response: no framing, no sniffing, no inline script, no referrer leaks. */
export function securityHeaders(secure: boolean) {
	return (_req: IncomingMessage, res: ServerResponse, next: () => void) => {
		res.setHeader(
			"Content-Security-Policy",
			"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
		);
		res.setHeader("X-Content-Type-Options", "nosniff");
		res.setHeader("Referrer-Policy", "no-referrer");
		res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
		res.setHeader("X-Frame-Options", "DENY");
		if (secure) res.setHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
		next();
	};
}
