import { concurrencyLimit } from "../src/passwords";

/** R4: password hashing never takes every core, so a sign-in storm cannot stall other requests. */
describe("identity: password hashing concurrency", () => {
	it("R4: runs at most the limit at once, the rest in arrival order, and a failure frees its slot", async () => {
		const limit = concurrencyLimit(2);
		let running = 0;
		let peak = 0;
		const order: number[] = [];
		const task = (i: number) => async () => {
			running += 1;
			peak = Math.max(peak, running);
			await new Promise((resolve) => setTimeout(resolve, 5));
			running -= 1;
			order.push(i);
			if (i === 1) throw new Error("wrong password hash");
			return i;
		};
		const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map((i) => limit(task(i))));
		expect(peak).toBe(2);
		expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
		expect(order.slice(2)).toEqual([2, 3, 4, 5]);
		// A task that starts after the queue drained runs at once.
		expect(await limit(async () => "later")).toBe("later");
	});
});
