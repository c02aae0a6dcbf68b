import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig } from "@portal/platform";
import { migrateAll } from "@portal/server";
import { createTestInfra, type TestInfra } from "../support/infra";
import { activatedAccount, type PortalClient, portalClient } from "../support/portal";
import { type PortalProcess, startPortalProcess } from "../support/process-portal";

const ROOT = resolve(__dirname, "../..");
const SERVER = join(ROOT, "packages/server");
/** Where `npm run build -w @portal/portal-ui` writes the UI. */
const UI_DIST = join(ROOT, "packages/portal-ui/dist");
/** What deploy/Dockerfile runs. */
const BUNDLE = "packages/server/dist/bundle/start.js";

/**
 * R30: the image runs one bundled file (packages/server/bundle.mjs builds it; see BENCHMARKS.md for
 * why). Built here from this tree and started as a pod starts it, it must serve the whole portal,
 * including what it finds on disk beside its packages (the UI, PGlite's WebAssembly).
 */
describe("the bundled entry the image runs", () => {
	let infra: TestInfra;
	let pod: PortalProcess;
	let portal: PortalClient;

	beforeAll(async () => {
		infra = await createTestInfra();
		execFileSync("node", ["bundle.mjs"], { cwd: SERVER, stdio: "pipe" });
		if (!existsSync(join(UI_DIST, "index.html")))
			execFileSync("npm", ["run", "build", "-w", "@portal/portal-ui"], { cwd: ROOT, stdio: "ignore" });
		const env: Record<string, string> = { ...infra.env, NODE_ENV: "test", LOG_LEVEL: "debug" };
		const config = loadConfig(env);
		if (config.databaseUrl) await migrateAll(config);
		pod = await startPortalProcess(env, [process.execPath, BUNDLE]);
		portal = portalClient(pod.url, config);
	}, 120_000);

	afterAll(async () => {
		await pod?.stop();
		await infra.cleanup();
	});

	it("R30: a purchase becomes an account that activates, signs in and reads its own profile", async () => {
		const { token } = await activatedAccount(portal, "bundle@example.com");
		const profile = await portal.request("GET", "/api/v1/profiles/me", { headers: { Authorization: `Bearer ${token}` } });
		expect(profile.status).toBe(200);
		expect(profile.body.contact.email).toBe("bundle@example.com");
	});

	it("R30: serves the built UI, found through its package rather than beside the code", async () => {
		const page = await fetch(`${portal.url}/profile`);
		expect(page.status).toBe(200);
		expect(await page.text()).toBe(readFileSync(join(UI_DIST, "index.html"), "utf8"));
	});

	// esbuild renames classes whose names other modules use too (bundle.mjs): without `keepNames`,
	// Moleculer's ValidationError is `ValidationError2` here, and the gateway tells errors apart by name.
	it("R30: errors keep the names the gateway answers by: invalid fields 422 with their list, an unknown address 404", async () => {
		const invalid = await portal.request("POST", "/api/v1/auth/sign-in", { body: { login: "", password: 5 } });
		expect(invalid.status).toBe(422);
		expect(invalid.body).toMatchObject({ code: "VALIDATION_ERROR", detail: "Some fields are invalid." });
		expect(invalid.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(["login", "password"]));
		const missing = await portal.request("GET", "/api/v1/no-such-address");
		expect(missing.status).toBe(404);
		expect(missing.body).toMatchObject({ code: "NOT_FOUND" });
	});

	it("R30: on SIGTERM the pod stops once, cleanly: each service stopped once, exit code 0, no error logged", async () => {
		const logged = pod.output().length;
		expect(await pod.stop()).toBe(0);
		const lines = pod.output().slice(logged).split("\n");
		expect(lines.filter((line) => line.includes("Service 'identity' is stopping")).length).toBe(1);
		expect(lines.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
	});
});
