export const SESSION_COOKIE = "portal_session";
export const CSRF_COOKIE = "portal_csrf";

export function parseCookies(header: string | undefined): Record<string, string> {
	const cookies: Record<string, string> = {};
	for (const part of (header ?? "").split(";")) {
		const index = part.indexOf("=");
		if (index <= 0) continue;
		const name = part.slice(0, index).trim();
		if (name in cookies) continue; // the first (most specific path) wins, as browsers order them
		try {
			cookies[name] = decodeURIComponent(part.slice(index + 1).trim());
		} catch {
			// A cookie we cannot decode is ignored rather than failing the request.
		}
	}
	return cookies;
}

export interface CookieOptions {
	maxAgeSeconds: number;
	httpOnly: boolean;
	secure: boolean;
}

export const serializeCookie = (name: string, value: string, opts: CookieOptions): string =>
	[
		`${name}=${encodeURIComponent(value)}`,
		"Path=/",
		`Max-Age=${opts.maxAgeSeconds}`,
		"SameSite=Lax",
		opts.httpOnly ? "HttpOnly" : "",
		opts.secure ? "Secure" : "",
	]
		.filter(Boolean)
		.join("; ");
