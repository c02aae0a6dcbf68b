import { Errors } from "moleculer";

/** RFC 9457 problem details, as API.md spells them. */
export interface Problem {
	type: string;
	title: string;
	status: number;
	detail: string;
	code: string;
	errors?: { field: string; message: string }[];
	[extension: string]: unknown;
}

const TITLES: Record<number, string> = {
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	409: "Conflict",
	410: "Gone",
	412: "Precondition Failed",
	413: "Content Too Large",
	415: "Unsupported Media Type",
	422: "Unprocessable Content",
	428: "Precondition Required",
	429: "Too Many Requests",
	500: "Internal Server Error",
	503: "Service Unavailable",
};

const problem = (status: number, code: string, detail: string, extra: Partial<Problem> = {}): Problem => ({
	type: `urn:omti:portal:problem:${code.toLowerCase().replace(/_/g, "-")}`,
	title: TITLES[status] ?? "Error",
	status,
	detail,
	code,
	...extra,
});

type AnyError = Error & { code?: unknown; type?: string; data?: unknown; status?: number; statusCode?: number; expose?: boolean };

/** Field errors from fastest-validator (`[{ field, message }]`) or our ValidationError (`{ errors }`). */
function fieldErrors(data: unknown): { field: string; message: string }[] | undefined {
	const list = Array.isArray(data) ? data : (data as { errors?: unknown })?.errors;
	if (!Array.isArray(list)) return undefined;
	return list.map((e: { field?: string; message?: string }) => ({ field: e.field ?? "", message: e.message ?? "is invalid" }));
}

/**
 * Maps any error to the problem+json answer. Client errors keep their message; anything else
 * becomes a generic 500 or 503 so that no internals or stack traces leave the process.
 */
export function toProblem(err: AnyError): { problem: Problem; headers: Record<string, string> } {
	const headers: Record<string, string> = {};

	// body-parser (http-errors): oversized or malformed bodies.
	if (err.type === "entity.too.large")
		return { problem: problem(413, "PAYLOAD_TOO_LARGE", "The request body is larger than 1 MiB."), headers };
	if (err.type === "entity.parse.failed")
		return { problem: problem(400, "MALFORMED_JSON", "The request body is not valid JSON."), headers };
	if (err.type === "encoding.unsupported" || err.type === "charset.unsupported")
		return { problem: problem(415, "UNSUPPORTED_ENCODING", "The request body's encoding is not supported."), headers };
	if (typeof err.status === "number" && err.expose && err.status >= 400 && err.status < 500)
		return { problem: problem(err.status, "BAD_REQUEST", err.message), headers };

	if (err instanceof Errors.ServiceNotFoundError || err.name === "NotFoundError")
		return { problem: problem(404, "NOT_FOUND", "There is nothing at this address."), headers };
	if (
		err instanceof Errors.ServiceNotAvailableError ||
		err instanceof Errors.RequestTimeoutError ||
		err.name === "ServiceUnavailableError" ||
		err.name === "BrokerDisconnectedError"
	)
		return { problem: problem(503, "UNAVAILABLE", "The portal is temporarily unavailable. Please try again."), headers };

	if (err instanceof Errors.MoleculerError && typeof err.code === "number" && err.code >= 400 && err.code < 500) {
		const code = err.type && err.type.length > 0 ? err.type : "BAD_REQUEST";
		const data = err.data as Record<string, unknown> | undefined;
		const extra: Partial<Problem> = {};
		const errors = fieldErrors(data);
		if (errors) extra.errors = errors;
		if (err.code === 429 && typeof data?.retryAfterSeconds === "number") {
			headers["Retry-After"] = String(Math.ceil(data.retryAfterSeconds));
			for (const [key, value] of Object.entries(data)) if (key !== "retryAfterSeconds") extra[key] = value;
		}
		const detail =
			err.name === "ValidationError" && code === "VALIDATION_ERROR" && Array.isArray(data) ? "Some fields are invalid." : err.message;
		return { problem: problem(err.code, code, detail, extra), headers };
	}
	if (err instanceof Errors.MoleculerError && err.code === 503)
		return { problem: problem(503, err.type || "UNAVAILABLE", err.message), headers };
	return { problem: problem(500, "INTERNAL", "Something went wrong on our side. It has been logged."), headers };
}
