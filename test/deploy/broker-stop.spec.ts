import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { createTestInfra, type TestInfra } from "../support/infra";

const ROOT = resolve(__dirname, "../..");

/**
 * R30: a process that stops its broker must then be free to exit. Whatever the broker leaves scheduled
 * holds open a process that ends on its own (the staff command, a Jest worker past its graceful exit).
 */
describe("a stopped broker", () => {
	let infra: TestInfra;

	beforeAll(async () => {
		infra = await createTestInfra();
	});

	afterAll(async () => {
		await infra.cleanup();
	});

	it("R30: leaves no timer behind, even when stopped within a second of its services starting", () => {
		const out = execFileSync("node_modules/.bin/tsx", ["--conditions=source", "test/deploy/broker-stop.child.ts"], {
			cwd: ROOT,
			env: { ...process.env, ...infra.env, NODE_ENV: "test", LOG_LEVEL: "error" },
			encoding: "utf8",
		});
		const { answer, pending } = JSON.parse(out) as { answer: string; pending: string[] };
		expect(answer).toBe("pong");
		expect(pending.filter((resource) => resource === "Timeout")).toEqual([]);
	}, 60_000);
});
