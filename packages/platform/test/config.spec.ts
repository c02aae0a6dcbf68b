import { ConfigError, loadConfig } from "@portal/platform";

const problemsOf = (env: Record<string, string>): string[] => {
	try {
		loadConfig(env);
		return [];
	} catch (err) {
		if (err instanceof ConfigError) return err.problems;
		throw err;
	}
};

describe("config", () => {
	it("embedded defaults: PGlite, in-process transport, captured mail, migrations at start", () => {
		const config = loadConfig({});
		expect(config).toMatchObject({
			port: 3000,
			host: "127.0.0.1",
			publicUrl: "http://127.0.0.1:3000",
			databaseUrl: null,
			transporter: null,
			cacher: null,
			smtpUrl: null,
			migrateOnStart: true,
			retentionDays: 90,
		});
	});

	it("reports every bad variable on its own line", () => {
		const problems = problemsOf({ PORT: "http", DATABASE_URL: "mysql://x", RETENTION_DAYS: "0", CACHER: "not a url" });
		expect(problems).toHaveLength(4);
		expect(problems.join("\n")).toMatch(/PORT/);
		expect(problems.join("\n")).toMatch(/DATABASE_URL/);
		expect(problems.join("\n")).toMatch(/RETENTION_DAYS/);
		expect(problems.join("\n")).toMatch(/CACHER/);
	});

	it("production refuses development secrets, captured mail and the embedded database", () => {
		const problems = problemsOf({ NODE_ENV: "production" });
		expect(problems).toEqual([
			expect.stringMatching(/PURCHASE_WEBHOOK_SECRET/),
			expect.stringMatching(/SESSION_SECRET/),
			expect.stringMatching(/SMTP_URL/),
			expect.stringMatching(/DATABASE_URL/),
		]);
	});

	it("production starts with real secrets and infrastructure", () => {
		const config = loadConfig({
			NODE_ENV: "production",
			PURCHASE_WEBHOOK_SECRET: "p".repeat(40),
			SESSION_SECRET: "s".repeat(40),
			SMTP_URL: "smtp://mail:25",
			DATABASE_URL: "postgres://db/portal",
			TRANSPORTER: "nats://nats:4222",
			CHANNELS: "nats://nats:4222",
		});
		expect(config.cookieSecure).toBe(true);
		expect(config.migrateOnStart).toBe(false);
	});

	it("treats empty variables as unset", () => {
		expect(loadConfig({ DATABASE_URL: "", PORT: "" }).databaseUrl).toBeNull();
	});
});
