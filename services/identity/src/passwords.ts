import { availableParallelism } from "node:os";
import { hash, verify } from "@node-rs/argon2";
import type { FieldError } from "@portal/platform";
import type { ZxcvbnFactory } from "@zxcvbn-ts/core";

/**
 * argon2id with OWASP's minimum (19 MiB, t=2, p=1). `Algorithm.Argon2id` is a const enum that
 * isolated modules cannot inline, hence the literal.
 */
export const ARGON2_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Runs at most `limit` tasks at once; the others wait in arrival order. */
export function concurrencyLimit(limit: number) {
	let running = 0;
	const waiting: (() => void)[] = [];
	return async <T>(task: () => Promise<T>): Promise<T> => {
		if (running < limit) running += 1;
		else await new Promise<void>((resolve) => waiting.push(resolve)); // handed a running slot
		try {
			return await task();
		} finally {
			const next = waiting.shift();
			if (next) next();
			else running -= 1;
		}
	};
}

/**
 * argon2 runs on libuv's thread pool (4 threads). Left alone, a sign-in storm keeps every pool
 * thread hashing: on a pod with fewer cores than that, the event loop waits for CPU behind them and
 * every other request stalls (bench: event-loop delay p99 ~50 ms on one core), and file and DNS
 * work waits for a thread. So hashes run one per core, leaving one core to the event loop; the rest
 * queue here, at the same total throughput.
 */
const hashing = concurrencyLimit(Math.max(1, Math.min(availableParallelism() - 1, 3)));

export const hashPassword = (password: string): Promise<string> => hashing(() => hash(password, ARGON2_OPTIONS));

/**
 * A real argon2id hash of a random secret: accounts that do not exist, or have no password yet, are
 * verified against it, so they cost the same work as a wrong password (R4: no user enumeration).
 */
const dummyHash = hash(`no-such-account-${Math.random()}`, ARGON2_OPTIONS);

export async function verifyPassword(passwordHash: string | null | undefined, password: string): Promise<boolean> {
	const against = passwordHash ?? (await dummyHash);
	const ok = await hashing(() => verify(against, password));
	return ok && Boolean(passwordHash);
}

/**
 * The strength estimator, built on first use: loading and ranking its dictionaries costs ~80 ms of
 * CPU that only setting a password needs, not a process start (cold start, issue 10).
 */
let zxcvbn: ZxcvbnFactory | undefined;
function strengthEstimator(): ZxcvbnFactory {
	if (!zxcvbn) {
		const { ZxcvbnFactory } = require("@zxcvbn-ts/core") as typeof import("@zxcvbn-ts/core");
		const { adjacencyGraphs, dictionary } = require("@zxcvbn-ts/language-common") as typeof import("@zxcvbn-ts/language-common");
		zxcvbn = new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs });
	}
	return zxcvbn;
}

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 256;

/** NIST SP 800-63B: length, a strength estimate, and not built from the user's own identifiers. */
export function passwordProblems(password: string, userInputs: string[], field = "password"): FieldError[] {
	if (password.length < PASSWORD_MIN) return [{ field, message: `Use at least ${PASSWORD_MIN} characters.` }];
	if (password.length > PASSWORD_MAX) return [{ field, message: `Use at most ${PASSWORD_MAX} characters.` }];
	const lowered = password.toLowerCase();
	const own = userInputs.map((s) => s.toLowerCase()).filter((s) => s.length >= 4);
	if (own.some((s) => lowered.includes(s))) return [{ field, message: "Do not use your user name or email address in your password." }];
	const result = strengthEstimator().check(password, own);
	if (result.score < 3) {
		const hint = result.feedback.warning ?? result.feedback.suggestions[0] ?? "Add more words or characters.";
		return [{ field, message: `This password is too easy to guess. ${hint}`.trim() }];
	}
	return [];
}
