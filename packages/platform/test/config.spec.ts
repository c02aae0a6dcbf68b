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

	it("R14/R18: link hosts, opt-in countries and campaign rate default to the legal list and a gentle rate", () => {
		const config = loadConfig({});
		expect(config.linkHosts).toEqual([]);
		expect(config.campaignRatePerSecond).toBe(10);
		expect(config.marketingOptInCountries).toEqual(expect.arrayContaining(["DE", "FR", "GB", "CH", "CA", "AU", "NZ", "JP", "KR", "NO"]));
		expect(config.marketingOptInCountries).not.toContain("US");
		expect(config.marketingOptInCountries).toHaveLength(37);
	});

	it("R14/R18: lists are read with spaces, case and repeats tidied", () => {
		const config = loadConfig({
			LINK_HOSTS: " Docs.OMTI.example, shop.omti.example ,docs.omti.example",
			MARKETING_OPT_IN_COUNTRIES: "de, fr,BR,de",
			CAMPAIGN_RATE_PER_SECOND: "200",
		});
		expect(config.linkHosts).toEqual(["docs.omti.example", "shop.omti.example"]);
		expect(config.marketingOptInCountries).toEqual(["DE", "FR", "BR"]);
		expect(config.campaignRatePerSecond).toBe(200);
	});

	it("R14/R18: a bad host, country code or rate is refused with a message naming the variable and the item", () => {
		const problems = problemsOf({
			LINK_HOSTS: "docs.omti.example,https://evil.example/x",
			MARKETING_OPT_IN_COUNTRIES: "DE,UK",
			CAMPAIGN_RATE_PER_SECOND: "201",
		});
		expect(problems).toEqual([
			expect.stringMatching(/LINK_HOSTS.*host names.*'https:\/\/evil\.example\/x'/),
			expect.stringMatching(/MARKETING_OPT_IN_COUNTRIES.*ISO 3166 alpha-2.*'UK'/),
			expect.stringMatching(/CAMPAIGN_RATE_PER_SECOND.*200/),
		]);
		for (const codes of ["DEU", "XX", "EU", "D1", ","]) {
			expect(problemsOf({ MARKETING_OPT_IN_COUNTRIES: codes })).toEqual([expect.stringMatching(/MARKETING_OPT_IN_COUNTRIES/)]);
		}
		for (const hosts of ["docs.omti.example:8443", "-bad.example", "a..b", "*.omti.example"]) {
			expect(problemsOf({ LINK_HOSTS: hosts })).toEqual([expect.stringMatching(/LINK_HOSTS/)]);
		}
		for (const rate of ["0", "2.5", "ten"]) {
			expect(problemsOf({ CAMPAIGN_RATE_PER_SECOND: rate })).toEqual([expect.stringMatching(/CAMPAIGN_RATE_PER_SECOND/)]);
		}
	});

	it("treats empty variables as unset", () => {
		expect(loadConfig({ DATABASE_URL: "", PORT: "" }).databaseUrl).toBeNull();
	});
});
