/** The portal's public HTTP API (API.md), with the session cookie and the CSRF header. */

export interface FieldError {
	field: string;
	message: string;
}

/** A problem+json answer (RFC 9457), or a network failure as status 0. */
export class ApiError extends Error {
	readonly status: number;
	readonly code: string;
	readonly errors: FieldError[];
	readonly body: Record<string, unknown>;
	readonly retryAfterSeconds?: number;

	constructor(status: number, body: Record<string, unknown>, retryAfter?: string | null) {
		super(typeof body.detail === "string" ? body.detail : `The request failed (${status}).`);
		this.status = status;
		this.code = typeof body.code === "string" ? body.code : "ERROR";
		this.errors = Array.isArray(body.errors) ? (body.errors as FieldError[]) : [];
		this.body = body;
		if (retryAfter && Number.isFinite(Number(retryAfter))) this.retryAfterSeconds = Number(retryAfter);
	}

	/** The message for one input: matched by full path (`grantee.username`) or by its last part. */
	forField(name: string): string | undefined {
		return this.errors.find((e) => e.field === name || e.field.split(".").pop() === name || e.field.startsWith(`${name}.`))?.message;
	}
}

export interface ApiResponse<T> {
	status: number;
	data: T;
	headers: Headers;
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function cookie(name: string): string | undefined {
	for (const part of document.cookie.split(";")) {
		const [key, ...rest] = part.trim().split("=");
		if (key === name) return decodeURIComponent(rest.join("="));
	}
	return undefined;
}

export async function api<T = unknown>(
	method: string,
	path: string,
	body?: unknown,
	extraHeaders: Record<string, string> = {},
): Promise<ApiResponse<T>> {
	const headers: Record<string, string> = { Accept: "application/json", ...extraHeaders };
	if (body !== undefined) headers["Content-Type"] = "application/json";
	if (STATE_CHANGING.has(method)) {
		const csrf = cookie("portal_csrf");
		if (csrf) headers["X-CSRF-Token"] = csrf;
	}
	let response: Response;
	try {
		response = await fetch(`/api/v1${path}`, {
			method,
			headers,
			body: body === undefined ? undefined : JSON.stringify(body),
			credentials: "same-origin",
		});
	} catch {
		throw new ApiError(0, { code: "NETWORK", detail: "The portal cannot be reached. Check your connection and try again." });
	}
	const text = await response.text();
	let parsed: unknown;
	try {
		parsed = text ? JSON.parse(text) : undefined;
	} catch {
		parsed = text;
	}
	if (!response.ok) {
		const problem = parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : { detail: String(parsed ?? "") };
		throw new ApiError(response.status, problem, response.headers.get("Retry-After"));
	}
	return { status: response.status, data: parsed as T, headers: response.headers };
}

/** Shapes API.md names; other answers are read defensively. */
export interface Me {
	id: string;
	username: string;
	email: string;
	status: string;
	products: { code: string; name?: string; since: string }[];
	roles: string[];
	mfa: boolean;
}

export const isNotThere = (err: unknown) => err instanceof ApiError && (err.status === 404 || err.status === 405);

export function formatDate(value: unknown, withTime = false): string {
	if (typeof value !== "string" && !(value instanceof Date)) return "";
	const date = new Date(value);
	if (Number.isNaN(date.getTime())) return String(value);
	return withTime
		? date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })
		: date.toLocaleDateString(undefined, { dateStyle: "medium" });
}
