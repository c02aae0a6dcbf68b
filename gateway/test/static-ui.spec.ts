import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveUi } from "../src/static-ui";

/** Serving the built UI: files, client routes, reserved prefixes, and the not-built hint (API.md: GET / is the portal UI). */
describe("static UI", () => {
	const dirs: string[] = [];
	const servers: Server[] = [];
	afterAll(() => {
		for (const server of servers) server.close();
		for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
	});

	async function serve(built: boolean): Promise<string> {
		const root = mkdtempSync(join(tmpdir(), "portal-ui-"));
		dirs.push(root);
		const dist = join(root, "dist");
		mkdirSync(dist);
		writeFileSync(join(root, "secret.txt"), "secret");
		if (built) {
			mkdirSync(join(dist, "assets"));
			writeFileSync(join(dist, "index.html"), "<!doctype html><title>portal</title>");
			writeFileSync(join(dist, "assets", "main-abc123.js"), "console.log(1)");
		}
		const middleware = serveUi(new Set(["api", "healthz", "l"]), dist);
		const server = createServer((req, res) =>
			middleware(req, res, () => {
				res.statusCode = 404;
				res.end("fell through");
			}),
		);
		servers.push(server);
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		const address = server.address();
		return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
	}

	it("R31: serves index.html at / and for client routes, hashed assets as immutable files", async () => {
		const url = await serve(true);
		for (const path of ["/", "/activate?token=abc", "/reset-password", "/profile/history"]) {
			const res = await fetch(url + path);
			expect(res.status).toBe(200);
			expect(res.headers.get("content-type")).toMatch(/^text\/html/);
			expect(await res.text()).toContain("<title>portal</title>");
		}
		const asset = await fetch(`${url}/assets/main-abc123.js`);
		expect(asset.headers.get("content-type")).toMatch(/^text\/javascript/);
		expect(asset.headers.get("cache-control")).toContain("immutable");
		expect(await asset.text()).toBe("console.log(1)");
	});

	it("R31: reserved prefixes, missing files, other methods and path traversal fall through", async () => {
		const url = await serve(true);
		for (const path of ["/api/v1/me", "/healthz", "/l/abc", "/assets/missing.js", "/%2e%2e/secret.txt", "/..%2fsecret.txt"]) {
			const res = await fetch(url + path);
			expect([path, res.status, await res.text()]).toEqual([path, 404, "fell through"]);
		}
		expect((await fetch(`${url}/profile`, { method: "POST" })).status).toBe(404);
	});

	it("R31: when the UI is not built, / says how to build it instead of failing", async () => {
		const url = await serve(false);
		const res = await fetch(`${url}/`);
		expect(res.status).toBe(503);
		expect(await res.text()).toContain("npm run build -w @portal/portal-ui");
		expect((await fetch(`${url}/api/v1/me`)).status).toBe(404);
	});
});
