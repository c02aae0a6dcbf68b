import fc from "fast-check";
import { startTestPortal, type TestPortal } from "../support/portal";
import {
	arbitraryFor,
	bearer,
	changedTables,
	customer,
	describeOp,
	fillPath,
	isApi,
	MOVING_COUNTERS,
	needsSession,
	type Operation,
	operations,
	type Person,
	quietSnapshot,
	type Session,
	sessionFrom,
	staff,
} from "./support";

/**
 * CSRF (issue 9, API.md "Authentication"): a cookie-authenticated state change needs the session's
 * `X-CSRF-Token` (equal to the `portal_csrf` cookie) and, when the browser says, our Origin. Every
 * state-changing operation of the OpenAPI document is tried the ways a hostile page could.
 */
describe("security: CSRF", () => {
	let portal: TestPortal;
	let ops: Operation[];
	let kim: Person;
	let lou: Person;
	let admin: Person;
	const evil = "https://evil.example";
	const tally = { tried: 0, letThrough: 0 };

	beforeAll(async () => {
		portal = await startTestPortal();
		kim = await customer(portal, "kim.cookie@example.com");
		lou = await customer(portal, "lou.other@example.com");
		admin = await staff(portal, "csrf.admin@omti.example", "admin");
		ops = (await operations(portal)).filter((op) => isApi(op) && op.stateChanging);
	});
	afterAll(async () => {
		console.info(`CSRF: ${tally.tried} requests tried, ${tally.letThrough} let through`);
		await portal?.stop();
	});

	const body = (op: Operation) => (op.bodySchema ? fc.sample(arbitraryFor(op.bodySchema), { seed: 7, numRuns: 1 })[0] : undefined);
	const ids = {
		accountId: "00000000-0000-4000-8000-000000000000",
		id: "00000000-0000-4000-8000-000000000000",
		version: "v1",
		productCode: "RB9",
	};

	it("R8/R31: cookie-authenticated changes without the token, with another session's token or from another Origin are refused (403) and write nothing", async () => {
		const guarded = ops.filter(needsSession);
		expect(guarded.length).toBeGreaterThan(25);
		const before = await quietSnapshot(portal);
		const failures: string[] = [];
		for (const who of [kim, admin]) {
			const variants: [string, Record<string, string>][] = [
				["no token", { Cookie: who.cookie }],
				["token only in the cookie", { Cookie: who.cookie, Origin: portal.config.publicUrl }],
				[
					"another session's token",
					{ Cookie: `${who.cookie.split("; portal_csrf=")[0]}; portal_csrf=${lou.csrf}`, "X-CSRF-Token": lou.csrf },
				],
				["header without the cookie", { Cookie: who.cookie.split("; portal_csrf=")[0] ?? "", "X-CSRF-Token": who.csrf }],
				["right token, foreign Origin", { Cookie: who.cookie, "X-CSRF-Token": who.csrf, Origin: evil }],
				["right token, null Origin", { Cookie: who.cookie, "X-CSRF-Token": who.csrf, Origin: "null" }],
			];
			for (const op of guarded) {
				for (const [what, headers] of variants) {
					const res = await portal.request(op.method, fillPath(op.path, ids), { headers: { "If-Match": "*", ...headers }, body: body(op) });
					tally.tried++;
					if (res.status !== 403 || !/^CSRF_/.test(res.body?.code ?? "")) {
						tally.letThrough++;
						failures.push(`${describeOp(op)} as ${who.username} (${what}): ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`);
					}
				}
			}
		}
		expect(failures).toEqual([]);
		expect(changedTables(before, await quietSnapshot(portal), MOVING_COUNTERS)).toEqual([]);
		// The sessions survived: sign-out and "end all other sessions" were refused too.
		expect((await portal.request("GET", "/api/v1/me", { headers: { Cookie: kim.cookie } })).status).toBe(200);
	});

	it("R31: a public operation reached with a cookie but no token runs anonymously, never as the signed-in user", async () => {
		const reset = await portal.request("POST", "/api/v1/auth/password-reset", {
			headers: { Cookie: kim.cookie, Origin: evil },
			body: { email: "nobody@example.com" },
		});
		tally.tried++;
		expect(reset.status).toBe(202);
		// A signed-in action behind the same cookie is still refused: the cookie alone carries no authority.
		const signOut = await portal.request("POST", "/api/v1/auth/sign-out", { headers: { Cookie: kim.cookie, Origin: evil } });
		tally.tried++;
		expect(signOut.status).toBe(403);
		expect((await portal.request("GET", "/api/v1/me", { headers: { Cookie: kim.cookie } })).status).toBe(200);
	});

	it("R31: bodies a cross-site form can send (text/plain, urlencoded, multipart) never drive a JSON operation, not even sign-in", async () => {
		const failures: string[] = [];
		const forms: [string, string][] = [
			["text/plain", JSON.stringify({ login: kim.username, password: kim.password })],
			["application/x-www-form-urlencoded", `login=${kim.username}&password=${encodeURIComponent(kim.password)}`],
			["multipart/form-data; boundary=x", `--x\r\nContent-Disposition: form-data; name="login"\r\n\r\n${kim.username}\r\n--x--\r\n`],
		];
		for (const op of ops.filter((o) => o.bodySchema?.required?.length)) {
			for (const [type, raw] of forms) {
				const headers: Record<string, string> = { "Content-Type": type, Origin: evil };
				const res = await portal.request(op.method, fillPath(op.path, ids), { raw, headers });
				tally.tried++;
				if (res.status < 400 || res.status >= 500) {
					tally.letThrough++;
					failures.push(`${describeOp(op)} (${type}): ${res.status}`);
				}
			}
		}
		expect(failures).toEqual([]);
	});

	it("R8: the same change with the token from our own page goes through (the refusals above are CSRF decisions)", async () => {
		const res = await portal.request("PUT", "/api/v1/preferences/communications", {
			headers: { Cookie: kim.cookie, "X-CSRF-Token": kim.csrf, Origin: portal.config.publicUrl },
			body: { marketing: { email: false } },
		});
		expect(res.status).toBe(200);
		const scripted = await portal.request("PUT", "/api/v1/preferences/communications", {
			headers: bearer(kim),
			body: { marketing: { email: false } },
		});
		expect(scripted.status).toBe(200);
	});

	it("R6: sign-in sets the CSRF cookie readable by our page and the session cookie HttpOnly, SameSite=Lax", async () => {
		const res = await portal.request("POST", "/api/v1/auth/sign-in", { body: { login: kim.username, password: kim.password } });
		const session: Session = sessionFrom(res.body.account.id, res.body.token, res.setCookies);
		expect(session.csrf).toMatch(/^[0-9a-f]{64}$/);
		expect(res.setCookies.find((c) => c.startsWith("portal_session="))).toMatch(/HttpOnly/);
		expect(res.setCookies.find((c) => c.startsWith("portal_session="))).toMatch(/SameSite=Lax/);
		expect(res.setCookies.find((c) => c.startsWith("portal_csrf="))).not.toMatch(/HttpOnly/);
	});
});
