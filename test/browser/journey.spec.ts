import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { apiRoutes } from "../../gateway/src/routes";
import { eventually, purchaseEvent, startTestPortal, type TestPortal } from "../support/portal";

/**
 * The customer's journey in a real browser (Debian's Chromium driven by playwright-core), against the
 * whole portal in-process: purchase → welcome mail → activate → sign in → profile → share with a
 * second user who sees it in their own browser → revoke → preferences → inventory request.
 * Every page is screenshotted to test-artifacts/browser/ and checked with axe-core.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROOT = resolve(__dirname, "../..");
const ARTIFACTS = join(ROOT, "test-artifacts", "browser");
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const ARGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--no-first-run",
];
const PASSWORD = "violet tractor harbour 1987";
const has = (route: string) => route in apiRoutes;

jest.setTimeout(90_000);

describe("portal UI in a real browser", () => {
	let portal: TestPortal;
	let browser: Browser;
	const contexts: BrowserContext[] = [];
	const cspViolations: string[] = [];

	beforeAll(async () => {
		if (!existsSync(CHROMIUM)) {
			throw new Error(
				`Chromium is missing at ${CHROMIUM}: the browser tests need it. Install it with \`apt-get install -y chromium\` (CI's .ci/run does) or set CHROMIUM_PATH.`,
			);
		}
		// The UI the gateway serves is the one this tree builds, never a stale copy.
		execFileSync("npm", ["run", "build", "-w", "@portal/portal-ui"], { cwd: ROOT, stdio: "ignore" });
		mkdirSync(ARTIFACTS, { recursive: true });
		[portal, browser] = await Promise.all([startTestPortal(), chromium.launch({ executablePath: CHROMIUM, args: ARGS })]);
		// On a busy machine the embedded database may still be warming up: start once the portal says it is ready.
		await eventually(async () => ((await portal.request("GET", "/readyz")).status === 200 ? true : undefined), "portal readiness", 30_000);
	});
	afterAll(async () => {
		for (const context of contexts) await context.close().catch(() => undefined);
		await browser?.close();
		await portal?.stop();
	});
	afterEach(() => {
		expect(cspViolations).toEqual([]);
	});

	async function newPage(viewport = { width: 1280, height: 900 }): Promise<Page> {
		const context = await browser.newContext({ viewport, baseURL: portal.url });
		contexts.push(context);
		const page = await context.newPage();
		page.on("console", (message) => {
			if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
		});
		page.on("pageerror", (err) => cspViolations.push(`page error: ${err.message}`));
		return page;
	}

	/** Screenshot plus axe-core: no violation of impact serious or critical. */
	async function check(page: Page, name: string) {
		await page.waitForSelector("#page-title");
		// A selector wait, not a function: string predicates are evaluated in the page and the CSP forbids eval.
		await page.waitForSelector(".loading", { state: "detached", timeout: 10_000 });
		await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
		// CDP evaluation is not subject to the page's CSP, so axe runs without weakening the policy.
		await page.evaluate(AXE);
		// A string, evaluated in the page (this file is type-checked without the DOM library).
		const violations: string[] = await page.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((result) =>
			result.violations
				.filter((v) => v.impact === "serious" || v.impact === "critical")
				.map((v) => v.id + " (" + v.impact + "): " + v.nodes.map((n) => n.target.join(" ")).join(", ")))`);
		expect([name, violations]).toEqual([name, []]);
	}

	async function welcomeLink(email: string): Promise<string> {
		const [mail] = await portal.mailsFor(email);
		const link = mail?.links.find((l) => l.includes("/activate?token="));
		if (!link) throw new Error(`no activation link in ${JSON.stringify(mail)}`);
		return link;
	}

	async function signInAs(page: Page, login: string) {
		await page.goto("/sign-in");
		await page.getByLabel("User name or email").fill(login);
		await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.waitForSelector(".who");
	}

	const ann = { email: "ann.browser@example.com", username: "", page: undefined as unknown as Page };
	const bob = { email: "bob.browser@example.com", username: "", page: undefined as unknown as Page };

	it("R1: a purchase's welcome link opens the activation page; a weak password gets the server's reason next to the field", async () => {
		expect((await portal.purchase(purchaseEvent({ email: ann.email, product: "RB9" }))).status).toBe(202);
		const link = await welcomeLink(ann.email);
		ann.page = await newPage();
		await ann.page.goto(link.replace(/^https?:\/\/[^/]+/, portal.url));
		await check(ann.page, "01-activate");
		await ann.page.getByLabel("New password").fill("password");
		await ann.page.getByLabel("Repeat the password").fill("password");
		await ann.page.getByRole("button", { name: "Activate account" }).click();
		const fieldError = ann.page.locator(".field.has-error .field-error").first();
		await fieldError.waitFor();
		expect(await fieldError.textContent()).toMatch(/\w{4,}/);
		expect(await ann.page.locator("[aria-invalid='true']").first().getAttribute("name")).toBe("password");
		await check(ann.page, "02-activate-weak-password");
	});

	it("R1: choosing a strong password activates the account and shows the home page with the product", async () => {
		await ann.page.getByLabel("New password").fill(PASSWORD);
		await ann.page.getByLabel("Repeat the password").fill(PASSWORD);
		await ann.page.getByRole("button", { name: "Activate account" }).click();
		await ann.page.getByText("Your account is active").waitFor();
		ann.username = (await ann.page.locator(".who").textContent()) ?? "";
		expect(ann.username).toMatch(/^ann/);
		expect(await ann.page.locator(".products").textContent()).toContain("RB9");
		await check(ann.page, "03-home");
	});

	it("R4: sign out, then sign in with the user name", async () => {
		await ann.page.getByRole("button", { name: "Sign out" }).click();
		await ann.page.waitForURL(/\/sign-in/);
		await check(ann.page, "04-sign-in");
		await ann.page.getByLabel("User name or email").fill(ann.username);
		await ann.page.getByLabel("Password", { exact: true }).fill("wrong password entirely");
		await ann.page.getByRole("button", { name: "Sign in" }).click();
		await ann.page
			.getByRole("alert")
			.filter({ hasText: /incorrect/i })
			.waitFor();
		await signInAs(ann.page, ann.username);
		expect(new URL(ann.page.url()).pathname).toBe("/");
	});

	(has("PATCH /profiles/me") ? it : it.skip)("R9: the owner edits the profile and sees the change in the history", async () => {
		await ann.page.goto("/profile");
		await ann.page.getByLabel("Given name").fill("Annabel");
		await ann.page.getByRole("button", { name: "Save changes" }).click();
		await ann.page.getByText("Your changes are saved").waitFor();
		await ann.page.getByRole("cell", { name: /Given name: .* → Annabel/ }).waitFor();
		await ann.page.reload();
		await ann.page.getByLabel("Given name").waitFor();
		expect(await ann.page.getByLabel("Given name").inputValue()).toBe("Annabel");
		await check(ann.page, "05-profile");
	});

	it("R11: the owner shares with a second user, who sees it in their own browser", async () => {
		expect((await portal.purchase(purchaseEvent({ email: bob.email, product: "RB9" }))).status).toBe(202);
		bob.page = await newPage({ width: 390, height: 844 });
		await bob.page.goto((await welcomeLink(bob.email)).replace(/^https?:\/\/[^/]+/, portal.url));
		await bob.page.getByLabel("New password").fill(PASSWORD);
		await bob.page.getByLabel("Repeat the password").fill(PASSWORD);
		await bob.page.getByRole("button", { name: "Activate account" }).click();
		await bob.page.getByText("Your account is active").waitFor();
		bob.username = (await bob.page.locator(".who").textContent()) ?? "";

		await ann.page.goto("/sharing");
		await ann.page.getByLabel("Their user name").fill(bob.username);
		await ann.page.getByLabel("They may").selectOption("viewer");
		await ann.page.getByRole("button", { name: "Share", exact: true }).click();
		await ann.page.getByText(`Shared with ${bob.username}`).waitFor();
		await ann.page.getByRole("cell", { name: bob.username, exact: true }).first().waitFor();
		await check(ann.page, "06-sharing-owner");

		await bob.page.goto("/sharing");
		await bob.page.getByRole("link", { name: `Open ${ann.username}` }).waitFor();
		await check(bob.page, "07-sharing-grantee-mobile");
		if (has("GET /profiles/:accountId")) {
			await bob.page.getByRole("link", { name: `Open ${ann.username}` }).click();
			await bob.page.getByLabel("Given name").waitFor();
			await check(bob.page, "08-shared-profile-mobile");
			await bob.page.goto("/sharing");
		}
	});

	it("R12: after a revoke the grantee no longer sees the share on the next load", async () => {
		await ann.page.getByRole("button", { name: `Revoke access for ${bob.username}` }).click();
		await ann.page.getByText(`Access for ${bob.username} was revoked`).waitFor();
		await bob.page.reload();
		await bob.page.getByText("Nobody shares their information with you.").waitFor();
		expect(await bob.page.getByRole("link", { name: `Open ${ann.username}` }).count()).toBe(0);
	});

	it("R18: the owner turns marketing mail on and the choice is kept; service messages cannot be turned off (R19)", async () => {
		await ann.page.goto("/preferences");
		await ann.page.waitForSelector("input[name=marketing]");
		await check(ann.page, "09-preferences");
		expect(await ann.page.locator("input[name=serviceMessages]").isDisabled()).toBe(true);
		const marketing = ann.page.getByLabel("Send me news and offers by email");
		const before = await marketing.isChecked();
		await marketing.setChecked(!before);
		await ann.page.getByRole("button", { name: "Save preferences" }).click();
		await ann.page.getByText("Your preferences are saved").waitFor();
		await ann.page.reload();
		await ann.page.waitForSelector("input[name=marketing]");
		expect(await ann.page.getByLabel("Send me news and offers by email").isChecked()).toBe(!before);
	});

	it("R25: the owner requests an inventory and sees it received with a due date", async () => {
		await ann.page.goto("/privacy");
		await ann.page.getByRole("button", { name: "Request an inventory" }).waitFor();
		await ann.page.getByLabel("I live in California").check();
		await ann.page.getByRole("button", { name: "Request an inventory" }).click();
		await ann.page.getByText(/Request received\. It is due by/).waitFor();
		await ann.page
			.getByRole("cell", { name: /received/i })
			.first()
			.waitFor();
		await check(ann.page, "10-privacy-centre");
	});

	it("R16: activity, teams, security and the password pages pass the accessibility check", async () => {
		for (const [path, name] of [
			["/activity", "11-activity"],
			["/teams", "12-teams"],
			["/security", "13-security"],
		]) {
			await ann.page.goto(path as string);
			await check(ann.page, name as string);
		}
		expect(await ann.page.locator("table").first().textContent()).toContain("(this one)");
		const visitor = await newPage();
		await visitor.goto("/forgot-password");
		await check(visitor, "14-forgot-password");
		await visitor.goto("/reset-password?token=nothing");
		await check(visitor, "15-reset-password");
	});

	it("R7: a compliance officer's staff console offers the compliance actions", async () => {
		const created = await portal.broker.call<{ setPasswordUrl: string }, { email: string; role: string }>("identity.createStaff", {
			email: "carol.staff@example.com",
			role: "compliance",
		});
		const staff = await newPage();
		await staff.goto(created.setPasswordUrl.replace(/^https?:\/\/[^/]+/, portal.url));
		await staff.getByLabel("New password").fill(PASSWORD);
		await staff.getByLabel("Repeat the password").fill(PASSWORD);
		await staff.getByRole("button", { name: "Activate account" }).click();
		await staff.waitForSelector(".who");
		await staff.goto("/staff");
		await staff.waitForSelector("details.op");
		expect(await staff.locator("section.card h2").allTextContents()).toEqual(expect.arrayContaining(["Policy"]));
		await check(staff, "16-staff-console");
	});
});
