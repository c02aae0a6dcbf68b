import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { startTestPortal, type TestPortal } from "../../test/support/portal";
import { apiRoutes, hookRoutes, rootRoutes } from "../src/routes";

/**
 * The validator is ESM-only, which Jest's CommonJS runtime on Node 20 cannot load: it runs in a
 * plain Node child process instead, reading the document on stdin.
 */
function validateOpenApi(document: unknown): { valid: boolean; version?: string; errors?: unknown } {
	const script = `import { Validator } from "@seriousme/openapi-schema-validator";
let input = ""; for await (const chunk of process.stdin) input += chunk;
const validator = new Validator();
const result = await validator.validate(JSON.parse(input));
process.stdout.write(JSON.stringify({ valid: result.valid, errors: result.errors, version: validator.version }));`;
	const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
		input: JSON.stringify(document),
		cwd: join(__dirname, ".."),
		env: { ...process.env, NODE_OPTIONS: "" },
	});
	return JSON.parse(out.toString("utf8"));
}

type Operation = { operationId: string; security?: unknown[]; requestBody?: any; parameters?: any[]; responses: Record<string, any> };

/** The OpenAPI document (API.md: "The gateway serves the OpenAPI document of all of it") and its reference page. */
describe("OpenAPI document and API reference", () => {
	let portal: TestPortal;
	let doc: any;
	beforeAll(async () => {
		portal = await startTestPortal();
		doc = (await portal.request("GET", "/api/openapi.json")).body;
	});
	afterAll(() => portal?.stop());

	const operations = (): [string, string, Operation][] =>
		Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, methods]) =>
			Object.entries(methods).map(([method, op]) => [path, method, op] as [string, string, Operation]),
		);

	it("R31: GET /api/openapi.json is a valid OpenAPI 3.1 document by a real validator", async () => {
		const res = await portal.request("GET", "/api/openapi.json");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^application\/json/);
		const result = validateOpenApi(res.body);
		expect(result.errors ?? []).toEqual([]);
		expect(result.valid).toBe(true);
		expect(result.version).toBe("3.1");
	});

	it("R31: every public route of the gateway's route table is documented", () => {
		const documented = new Set(operations().map(([path, method]) => `${method.toUpperCase()} ${path}`));
		const expected = [
			...Object.keys(apiRoutes).map((alias) => alias.replace(/^(\w+)\s+/, "$1 /api/v1")),
			...Object.keys(hookRoutes).map((alias) => alias.replace(/^(\w+)\s+/, "$1 /api/v1/hooks")),
			...Object.keys(rootRoutes).map((alias) => alias.replace(/^(\w+)\s+\/?/, "$1 /")),
		].map((route) => route.replace(/:(\w+)/g, "{$1}"));
		expect(expected.length).toBeGreaterThan(3);
		for (const route of expected) expect(documented).toContain(route);
		for (const route of ["GET /healthz", "GET /readyz", "GET /metrics", "GET /api/openapi.json"]) expect(documented).toContain(route);
	});

	it("R31: request bodies come from the action's validator params (required, limits, no unknown fields)", () => {
		const body = doc.paths["/api/v1/auth/sign-in"].post.requestBody.content["application/json"].schema;
		expect(body).toMatchObject({
			type: "object",
			required: ["login", "password"],
			additionalProperties: false,
			properties: { login: { type: "string", minLength: 1, maxLength: 254 }, totp: { type: "string", maxLength: 20 } },
		});
		const purchase = doc.paths["/api/v1/hooks/purchases"].post;
		expect(purchase.security).toEqual([{ purchaseSignature: [] }]);
		expect(purchase.requestBody.content["application/json"].schema.properties.customer.properties.email).toMatchObject({ format: "email" });
		expect(doc.paths["/api/v1/me"].get.responses["200"].content["application/json"].schema.required).toContain("products");
	});

	it("R31: every operation documents its problem+json errors, and signed-in routes 401", () => {
		for (const [path, method, op] of operations()) {
			if (!path.startsWith("/api/v1")) continue;
			expect(op.responses.default.content["application/problem+json"].schema).toEqual({ $ref: "#/components/schemas/Problem" });
			if (op.security && op.security.length > 0 && !path.startsWith("/api/v1/hooks")) expect(Object.keys(op.responses)).toContain("401");
			expect(`${method} ${path}: ${op.operationId}`).toMatch(/: \w+/);
		}
		expect(doc.paths["/api/v1/me"].get.security).toEqual([{ sessionCookie: [], csrfToken: [] }, { bearer: [] }]);
		expect(doc.paths["/api/v1/auth/sign-in"].post.security).toEqual([]);
	});

	it("R31: /api/docs is an HTML reference of every route under the strict CSP, with no inline script or style", async () => {
		const res = await portal.request("GET", "/api/docs");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^text\/html/);
		expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
		const html = String(res.body);
		expect(html).toContain("/api/v1/auth/sign-in");
		expect(html).toContain("/api/v1/hooks/purchases");
		expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
		expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
		expect((html.match(/class="op"/g) ?? []).length).toBe(operations().length);
		for (const asset of ["/api/docs/docs.css", "/api/docs/docs.js"]) {
			const file = await portal.request("GET", asset);
			expect(file.status).toBe(200);
			expect(String(file.body).length).toBeGreaterThan(100);
		}
	});

	it("R31: the UI never shadows the API or the probes", async () => {
		const unknownApi = await portal.request("GET", "/api/v1/nothing-here");
		expect(unknownApi.status).toBe(404);
		expect(unknownApi.headers.get("content-type")).toMatch(/^application\/problem\+json/);
		const otherApi = await portal.request("GET", "/api/nothing-here");
		expect(otherApi.status).toBe(404);
		expect(otherApi.headers.get("content-type")).toMatch(/^application\/problem\+json/);
		expect((await portal.request("GET", "/healthz")).body).toEqual({ status: "alive" });
		const page = await portal.request("GET", "/profile");
		expect(page.headers.get("content-type")).toMatch(/^text\/html/);
		expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
		expect(String(page.body)).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
	});
});
