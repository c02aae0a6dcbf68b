import { Errors } from "moleculer";

/**
 * The error vocabulary (STYLE: Errors): HTTP-like code, SCREAMING_SNAKE type, data. The gateway turns
 * each into problem+json; nothing else leaves a process.
 */
export interface FieldError {
	field: string;
	message: string;
}

export class ValidationError extends Errors.MoleculerClientError {
	constructor(message: string, errors: FieldError[] = [], type = "VALIDATION_ERROR", code = 422) {
		super(message, code, type, { errors });
	}
}

export class BadRequest extends Errors.MoleculerClientError {
	constructor(message: string, type = "BAD_REQUEST", data?: unknown) {
		super(message, 400, type, data);
	}
}

export class Unauthorized extends Errors.MoleculerClientError {
	constructor(message = "Authentication is required.", type = "UNAUTHORIZED") {
		super(message, 401, type);
	}
}

export class Forbidden extends Errors.MoleculerClientError {
	constructor(message = "You are not allowed to do this.", type = "FORBIDDEN") {
		super(message, 403, type);
	}
}

export class NotFound extends Errors.MoleculerClientError {
	constructor(message = "Not found.", type = "NOT_FOUND") {
		super(message, 404, type);
	}
}

export class Conflict extends Errors.MoleculerClientError {
	constructor(message: string, type = "CONFLICT", data?: unknown) {
		super(message, 409, type, data);
	}
}

export class Gone extends Errors.MoleculerClientError {
	constructor(message: string, type = "GONE") {
		super(message, 410, type);
	}
}

export class PreconditionFailed extends Errors.MoleculerClientError {
	constructor(message = "The resource changed since you read it.", type = "PRECONDITION_FAILED") {
		super(message, 412, type);
	}
}

export class RateLimited extends Errors.MoleculerClientError {
	constructor(
		message: string,
		readonly retryAfterSeconds: number,
		data: Record<string, unknown> = {},
	) {
		super(message, 429, "RATE_LIMITED", { retryAfterSeconds, ...data });
	}
}

export class Unavailable extends Errors.MoleculerRetryableError {
	constructor(message = "The service is temporarily unavailable.", type = "UNAVAILABLE") {
		super(message, 503, type);
	}
}
