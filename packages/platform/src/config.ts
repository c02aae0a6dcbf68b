import Validator from "fastest-validator";

/**
 * The one place that reads the environment (STYLE: Config). Everything is validated at start and
 * every problem is reported on its own line, so a misconfigured pod says exactly what is wrong.
 */
export interface PortalConfig {
	nodeEnv: "development" | "production" | "test";
	host: string;
	port: number;
	healthPort: number | null;
	publicUrl: string;
	dataDir: string;
	databaseUrl: string | null;
	transporter: string | null;
	channels: string | null;
	cacher: string | null;
	namespace: string;
	smtpUrl: string | null;
	services: string[] | null;
	purchaseWebhookSecret: string;
	sessionSecret: string;
	retentionDays: number;
	logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
	migrateOnStart: boolean;
	cookieSecure: boolean;
	mailFrom: { service: string; marketing: string };
	session: { idleMinutes: number; absoluteHours: number };
	activationTtlHours: number;
	tracingExporter: "none" | "console" | "zipkin" | "jaeger";
	tracingEndpoint: string | null;
	/** Purchase events older than this are still honoured but logged as late (see identity). */
	purchaseMaxAgeDays: number;
	/** Hosts besides PUBLIC_URL's that tracked mail links may lead to (activity-log, `GET /l/:code`). */
	linkHosts: string[];
	/** Where marketing mail needs explicit opt-in (R18): ISO 3166 alpha-2, upper case. */
	marketingOptInCountries: string[];
	/** Marketing mails a campaign queues per second when it does not ask for a rate itself (R18). */
	campaignRatePerSecond: number;
}

export const DEVELOPMENT_SECRETS = {
	purchaseWebhookSecret: "development-only-purchase-webhook-secret",
	sessionSecret: "development-only-session-secret-change-me",
} as const;

/**
 * Countries whose law requires explicit opt-in before marketing email (R18): EU and EEA (ePrivacy
 * Directive), UK (PECR), Switzerland (UWG), Canada (CASL), Australia (Spam Act), New Zealand (UEMA),
 * Japan (Act on Specified Electronic Mail), South Korea (Network Act). Accounts there start opted out.
 * MARKETING_OPT_IN_COUNTRIES replaces the whole list when the legal advice changes.
 */
export const DEFAULT_MARKETING_OPT_IN_COUNTRIES: readonly string[] = [
	...["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE"],
	...["IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"],
	...["IS", "LI", "NO", "GB", "CH"],
	...["CA", "AU", "NZ", "JP", "KR"],
];

export class ConfigError extends Error {
	constructor(readonly problems: string[]) {
		super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
		this.name = "ConfigError";
	}
}

const url = (protocols: string[]) => ({
	type: "string",
	optional: true,
	empty: false,
	custom: (value: string | undefined, errors: unknown[]) => {
		if (value === undefined) return value;
		try {
			const parsed = new URL(value);
			if (!protocols.includes(parsed.protocol.replace(/:$/, ""))) {
				(errors as { type: string; actual: string }[]).push({ type: "urlProtocol", actual: value });
			}
		} catch {
			(errors as { type: string; actual: string }[]).push({ type: "url", actual: value });
		}
		return value;
	},
});

type FieldError = { type: string; actual: string };

/** A comma-separated list whose every item must pass `valid`; the first bad item is named in the message. */
const list = (type: string, valid: (item: string) => boolean) => ({
	type: "string",
	optional: true,
	custom: (value: string | undefined, errors: unknown[]) => {
		if (value === undefined) return value;
		const items = splitList(value);
		const bad = items.find((item) => !valid(item));
		if (bad !== undefined || items.length === 0) (errors as FieldError[]).push({ type, actual: bad ?? value });
		return value;
	},
});

const splitList = (value: string): string[] =>
	value
		.split(",")
		.map((item) => item.trim())
		.filter((item) => item !== "");

/** A DNS host name (no scheme, port or path): what a link's URL hostname is compared with. */
const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
/** ICU's region names, built on first use: ~20 ms at every process start otherwise (cold start, issue 10). */
let regionNames: Intl.DisplayNames | undefined;
/** Codes ICU names that are not ISO 3166-1 countries (UK is reserved: the United Kingdom is GB). */
const NOT_COUNTRIES = new Set(["EU", "EZ", "UN", "ZZ", "QO", "UK"]);
const isCountryCode = (code: string): boolean => {
	if (!/^[A-Za-z]{2}$/.test(code) || NOT_COUNTRIES.has(code.toUpperCase())) return false;
	regionNames ??= new Intl.DisplayNames(["en"], { type: "region", fallback: "none" });
	return regionNames.of(code.toUpperCase()) !== undefined;
};

const envSchema = {
	$$strict: false,
	NODE_ENV: { type: "enum", values: ["development", "production", "test"], optional: true },
	HOST: { type: "string", empty: false, optional: true },
	PORT: { type: "number", integer: true, min: 0, max: 65535, convert: true, optional: true },
	HEALTH_PORT: { type: "number", integer: true, min: 0, max: 65535, convert: true, optional: true },
	PUBLIC_URL: url(["http", "https"]),
	DATA_DIR: { type: "string", empty: false, optional: true },
	DATABASE_URL: url(["postgres", "postgresql"]),
	TRANSPORTER: url(["nats"]),
	CHANNELS: url(["nats"]),
	CACHER: url(["redis", "rediss"]),
	NAMESPACE: { type: "string", pattern: /^[a-z0-9][a-z0-9-]{0,39}$/, optional: true },
	SMTP_URL: url(["smtp", "smtps"]),
	SERVICES: { type: "string", pattern: /^[a-z-]+(,[a-z-]+)*$/, optional: true },
	PURCHASE_WEBHOOK_SECRET: { type: "string", min: 32, optional: true },
	SESSION_SECRET: { type: "string", min: 32, optional: true },
	RETENTION_DAYS: { type: "number", integer: true, min: 1, max: 3650, convert: true, optional: true },
	LOG_LEVEL: { type: "enum", values: ["fatal", "error", "warn", "info", "debug", "trace"], optional: true },
	MIGRATE_ON_START: { type: "boolean", convert: true, optional: true },
	COOKIE_SECURE: { type: "boolean", convert: true, optional: true },
	MAIL_FROM_SERVICE: { type: "email", optional: true },
	MAIL_FROM_MARKETING: { type: "email", optional: true },
	SESSION_IDLE_MINUTES: { type: "number", integer: true, min: 1, max: 1440, convert: true, optional: true },
	SESSION_ABSOLUTE_HOURS: { type: "number", integer: true, min: 1, max: 720, convert: true, optional: true },
	ACTIVATION_TTL_HOURS: { type: "number", integer: true, min: 1, max: 720, convert: true, optional: true },
	TRACING_EXPORTER: { type: "enum", values: ["none", "console", "zipkin", "jaeger"], optional: true },
	TRACING_ENDPOINT: url(["http", "https"]),
	PURCHASE_MAX_AGE_DAYS: { type: "number", integer: true, min: 1, max: 3650, convert: true, optional: true },
	LINK_HOSTS: list("hostList", (item) => HOST_NAME.test(item)),
	MARKETING_OPT_IN_COUNTRIES: list("countryList", isCountryCode),
	CAMPAIGN_RATE_PER_SECOND: { type: "number", integer: true, min: 1, max: 200, convert: true, optional: true },
};

const check = new Validator({
	useNewCustomCheckerFunction: true,
	messages: {
		url: "The '{field}' field must be a URL.",
		urlProtocol: "The '{field}' field has an unsupported protocol.",
		hostList: "The '{field}' field must be a comma-separated list of host names (no scheme, port or path); '{actual}' is not one.",
		countryList: "The '{field}' field must be a comma-separated list of ISO 3166 alpha-2 country codes; '{actual}' is not one.",
	},
}).compile(envSchema);

/** Reads and validates the environment; throws {@link ConfigError} listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): PortalConfig {
	// Empty variables count as unset, the way shells and Kubernetes manifests usually mean them.
	const input: Record<string, string> = {};
	for (const [key, value] of Object.entries(env)) if (value !== undefined && value !== "") input[key] = value;

	const result = check(input);
	if (result !== true) {
		throw new ConfigError((result as { message?: string }[]).map((e) => e.message ?? "invalid value"));
	}
	const e = input as Record<string, string | undefined> & Record<string, unknown>;
	const nodeEnv = (e.NODE_ENV ?? "development") as PortalConfig["nodeEnv"];
	const host = e.HOST ?? "127.0.0.1";
	const port = (e.PORT as unknown as number | undefined) ?? 3000;

	const config: PortalConfig = {
		nodeEnv,
		host,
		port,
		healthPort: (e.HEALTH_PORT as unknown as number | undefined) ?? null,
		publicUrl: (e.PUBLIC_URL ?? `http://${host}:${port}`).replace(/\/+$/, ""),
		dataDir: e.DATA_DIR ?? ".data",
		databaseUrl: e.DATABASE_URL ?? null,
		transporter: e.TRANSPORTER ?? null,
		channels: e.CHANNELS ?? null,
		cacher: e.CACHER ?? null,
		namespace: e.NAMESPACE ?? "",
		smtpUrl: e.SMTP_URL ?? null,
		services: e.SERVICES ? e.SERVICES.split(",") : null,
		purchaseWebhookSecret: e.PURCHASE_WEBHOOK_SECRET ?? DEVELOPMENT_SECRETS.purchaseWebhookSecret,
		sessionSecret: e.SESSION_SECRET ?? DEVELOPMENT_SECRETS.sessionSecret,
		retentionDays: (e.RETENTION_DAYS as unknown as number | undefined) ?? 90,
		logLevel: (e.LOG_LEVEL ?? (nodeEnv === "test" ? "warn" : "info")) as PortalConfig["logLevel"],
		migrateOnStart: (e.MIGRATE_ON_START as unknown as boolean | undefined) ?? !e.DATABASE_URL,
		cookieSecure: (e.COOKIE_SECURE as unknown as boolean | undefined) ?? nodeEnv === "production",
		mailFrom: {
			service: e.MAIL_FROM_SERVICE ?? "OMTI Customer Portal <portal@omti.example>",
			marketing: e.MAIL_FROM_MARKETING ?? "OMTI News <news@omti.example>",
		},
		session: {
			idleMinutes: (e.SESSION_IDLE_MINUTES as unknown as number | undefined) ?? 30,
			absoluteHours: (e.SESSION_ABSOLUTE_HOURS as unknown as number | undefined) ?? 12,
		},
		activationTtlHours: (e.ACTIVATION_TTL_HOURS as unknown as number | undefined) ?? 72,
		tracingExporter: (e.TRACING_EXPORTER ?? "none") as PortalConfig["tracingExporter"],
		tracingEndpoint: e.TRACING_ENDPOINT ?? null,
		purchaseMaxAgeDays: (e.PURCHASE_MAX_AGE_DAYS as unknown as number | undefined) ?? 365,
		linkHosts: [...new Set(splitList(e.LINK_HOSTS ?? "").map((host) => host.toLowerCase()))],
		marketingOptInCountries: e.MARKETING_OPT_IN_COUNTRIES
			? [...new Set(splitList(e.MARKETING_OPT_IN_COUNTRIES).map((code) => code.toUpperCase()))]
			: [...DEFAULT_MARKETING_OPT_IN_COUNTRIES],
		campaignRatePerSecond: (e.CAMPAIGN_RATE_PER_SECOND as unknown as number | undefined) ?? 10,
	};

	const problems: string[] = [];
	if (nodeEnv === "production") {
		if (config.purchaseWebhookSecret === DEVELOPMENT_SECRETS.purchaseWebhookSecret)
			problems.push("PURCHASE_WEBHOOK_SECRET must be set in production (the development value is refused).");
		if (config.sessionSecret === DEVELOPMENT_SECRETS.sessionSecret)
			problems.push("SESSION_SECRET must be set in production (the development value is refused).");
		if (!config.smtpUrl) problems.push("SMTP_URL must be set in production (captured mail is for development only).");
		if (!config.databaseUrl) problems.push("DATABASE_URL must be set in production (the embedded database is for development only).");
	}
	if (config.channels && !config.transporter)
		problems.push("CHANNELS needs TRANSPORTER too: durable channels over NATS imply services in several processes.");
	if (problems.length > 0) throw new ConfigError(problems);
	return config;
}

/** True when mail is captured in the database instead of sent (development only). */
export const isMailCaptured = (config: PortalConfig): boolean => config.smtpUrl === null;

export const usesDevelopmentSecrets = (config: PortalConfig): boolean =>
	config.purchaseWebhookSecret === DEVELOPMENT_SECRETS.purchaseWebhookSecret || config.sessionSecret === DEVELOPMENT_SECRETS.sessionSecret;
