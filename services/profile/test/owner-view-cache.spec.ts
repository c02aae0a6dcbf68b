import { isFresh, OWNER_VIEW_TTL_SECONDS, ttlFor } from "../src/owner-view-cache";
import type { ProfileView } from "../src/types";

/** R9, R10: the cached owner's view never shows a pending email whose link has expired. */
describe("profile: the owner's cached view", () => {
	const view = { accountId: "a", version: 3, updatedAt: "2026-11-25T00:00:00.000Z", sections: [] } as unknown as ProfileView;
	const now = Date.parse("2026-11-25T12:00:00Z");

	it("R10: is kept no longer than its pending email's link, and not at all in its last second", () => {
		expect(ttlFor(null, now)).toBe(OWNER_VIEW_TTL_SECONDS);
		expect(ttlFor(now + 10_500, now)).toBe(10);
		expect(ttlFor(now + 3_600_000, now)).toBe(OWNER_VIEW_TTL_SECONDS);
		expect(ttlFor(now + 900, now)).toBe(0);
		expect(ttlFor(now - 1, now)).toBe(0);
	});

	it("R10: a hit past the link's expiry is a miss, to the millisecond", () => {
		expect(isFresh({ view, validUntil: null }, now)).toBe(true);
		expect(isFresh({ view, validUntil: now + 1 }, now)).toBe(true);
		expect(isFresh({ view, validUntil: now }, now)).toBe(false);
		expect(isFresh(null, now)).toBe(false);
		expect(isFresh({ validUntil: null } as never, now)).toBe(false);
	});
});
