import { eventually, startTestPortal, type TestPortal } from "../../../test/support/portal";
import { customer, type Session, setClock, staff } from "./helpers";

const DAY = 86_400_000;

/** R25: the privacy-request gauges in /metrics follow the queue: open, and open past the deadline. */
describe("compliance: privacy-request metrics", () => {
	let portal: TestPortal;
	let ann: Session;
	let officer: Session;

	const gauges = async () => {
		const text = String((await portal.request("GET", "/metrics")).body);
		const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1]);
		return { open: value("portal_privacy_requests_open"), overdue: value("portal_privacy_requests_overdue") };
	};
	const gaugesBecome = (expected: { open: number; overdue: number }, what: string) =>
		eventually(async () => {
			const seen = await gauges();
			return seen.open === expected.open && seen.overdue === expected.overdue ? seen : undefined;
		}, what);

	beforeAll(async () => {
		portal = await startTestPortal();
		ann = await customer(portal, "ann.metrics@example.com", { region: "CA" });
		officer = await staff(portal, "officer.metrics@omti.example");
	});
	afterAll(() => portal?.stop());

	it("R25: a request is counted open at once, overdue after its 45 days, and neither once completed", async () => {
		await gaugesBecome({ open: 0, overdue: 0 }, "the gauges at zero");
		const asked = await portal.request("POST", "/api/v1/privacy/requests", { body: { type: "access" }, headers: ann.headers });
		expect(asked.status).toBe(202);
		await gaugesBecome({ open: 1, overdue: 0 }, "one open request");

		// 46 days on, the background pass (every few seconds) sees it late.
		setClock(portal, new Date(Date.now() + 46 * DAY));
		await gaugesBecome({ open: 1, overdue: 1 }, "one overdue request");

		const completed = await portal.request("POST", `/api/v1/admin/privacy/requests/${asked.body.id}/complete`, {
			headers: officer.headers,
		});
		expect(completed.status).toBe(200);
		await gaugesBecome({ open: 0, overdue: 0 }, "no open request");
	});
});
