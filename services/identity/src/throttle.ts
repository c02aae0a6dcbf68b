import { RateLimited, sha256, Unavailable } from "@portal/platform";
import type { ServiceBroker } from "moleculer";

type Cacher = NonNullable<ServiceBroker["cacher"]>;

/**
 * Sign-in throttling (R4), kept in the broker's cacher (Redis in production) so that every gateway
 * and identity replica sees the same counts. Each key allows a few free failures, then locks for a
 * time that doubles with every further failure, up to a cap. A key forgets its failures after an
 * hour without one. A success clears the account's key, never the address's key (one valid account
 * must not let an address keep guessing other accounts' passwords).
 *
 * If the store cannot be read or written, sign-in fails closed (503): without the counts, guessing
 * would be unlimited.
 */
export interface ThrottleRule {
	/** Failures allowed before the first lock. */
	free: number;
	/** Lock after the first failure beyond `free`; doubles with each further one. */
	baseSeconds: number;
	maxSeconds: number;
}

export const ACCOUNT_RULE: ThrottleRule = { free: 4, baseSeconds: 2, maxSeconds: 900 };
export const ADDRESS_RULE: ThrottleRule = { free: 50, baseSeconds: 2, maxSeconds: 900 };
const FORGET_AFTER_SECONDS = 3600;

interface ThrottleState {
	failures: number;
	lockedUntil: number;
}

export interface ThrottleKeys {
	/** The account id when the login names one, else the login itself: unknown users throttle alike. */
	account: string;
	address: string;
}

export const throttleKeys = (accountOrLogin: string, ip: string): ThrottleKeys => ({
	account: `identity-throttle:account:${sha256(accountOrLogin)}`,
	address: `identity-throttle:address:${sha256(ip)}`,
});

/** Seconds of lock after the `failures`-th failure under `rule` (0 while failures are free). */
export function lockSeconds(rule: ThrottleRule, failures: number): number {
	if (failures <= rule.free) return 0;
	return Math.min(rule.maxSeconds, rule.baseSeconds * 2 ** (failures - rule.free - 1));
}

async function guarded<T>(cacher: Cacher, work: () => Promise<T>): Promise<T> {
	try {
		// A disconnected Redis client would queue the command until Redis returns: refuse at once.
		if ((cacher as Cacher & { connected?: boolean | null }).connected === false) throw new Error("throttle store disconnected");
		return await work();
	} catch (err) {
		if (err instanceof RateLimited) throw err;
		throw new Unavailable("Sign-in is temporarily unavailable. Please try again shortly.");
	}
}

const read = async (cacher: Cacher, key: string): Promise<ThrottleState | null> =>
	((await cacher.get(key)) as ThrottleState | null) ?? null;

/**
 * Refuses with 429 while either key is locked; no password is checked then. Otherwise tells whether
 * the account has failures on record: only then has a success anything to clear (`recordSuccess`),
 * and most sign-ins skip that round trip to the store.
 */
export function assertNotLocked(cacher: Cacher, keys: ThrottleKeys): Promise<{ accountFailures: boolean }> {
	return guarded(cacher, async () => {
		const now = Date.now();
		const [account, address] = await Promise.all([read(cacher, keys.account), read(cacher, keys.address)]);
		const until = Math.max(account?.lockedUntil ?? 0, address?.lockedUntil ?? 0);
		if (until > now) {
			throw new RateLimited("Too many failed sign-in attempts. Please wait before trying again.", Math.ceil((until - now) / 1000));
		}
		return { accountFailures: account !== null };
	});
}

/** Counts a failure on both keys and starts the next lock when the free failures are used up. */
export function recordFailure(cacher: Cacher, keys: ThrottleKeys): Promise<void> {
	return guarded(cacher, async () => {
		const now = Date.now();
		for (const [key, rule] of [
			[keys.account, ACCOUNT_RULE],
			[keys.address, ADDRESS_RULE],
		] as const) {
			const failures = ((await read(cacher, key))?.failures ?? 0) + 1;
			const state: ThrottleState = { failures, lockedUntil: now + lockSeconds(rule, failures) * 1000 };
			await cacher.set(key, state, FORGET_AFTER_SECONDS);
		}
	});
}

export function recordSuccess(cacher: Cacher, keys: ThrottleKeys): Promise<void> {
	return guarded(cacher, async () => {
		await cacher.del(keys.account);
	});
}
