import type { LoggerConfig } from "moleculer";
import type { PortalConfig } from "./config";
import { currentRequestId } from "./request-context.middleware";

/** Paths pino blanks out wherever they appear in a logged object. */
export const REDACTED_PATHS = [
	"password",
	"*.password",
	"currentPassword",
	"*.currentPassword",
	"newPassword",
	"*.newPassword",
	"token",
	"*.token",
	"*.*.token",
	"activationToken",
	"*.activationToken",
	"totp",
	"*.totp",
	"secret",
	"*.secret",
	"authorization",
	"*.authorization",
	"*.headers.authorization",
	"*.headers.cookie",
	"cookie",
	"*.cookie",
	'*.headers["set-cookie"]',
];

export function loggerOptions(config: PortalConfig): LoggerConfig {
	return {
		type: "Pino",
		options: {
			level: config.logLevel,
			pino: {
				options: {
					redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
					base: { namespace: config.namespace || undefined },
					// Every line written while a request is handled names it (RequestContextMiddleware fills the scope).
					mixin: () => {
						const requestId = currentRequestId();
						return requestId ? { requestId } : {};
					},
				},
			},
		},
	} as LoggerConfig;
}
