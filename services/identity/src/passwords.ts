import { hash, verify } from "@node-rs/argon2";
import type { FieldError } from "@portal/platform";
import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import { adjacencyGraphs, dictionary } from "@zxcvbn-ts/language-common";

/**
 * argon2id with OWASP's minimum (19 MiB, t=2, p=1). `Algorithm.Argon2id` is a const enum that
 * isolated modules cannot inline, hence the literal.
 */
export const ARGON2_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string): Promise<string> => hash(password, ARGON2_OPTIONS);

/**
 * A real argon2id hash of a random secret: accounts that do not exist, or have no password yet, are
 * verified against it, so they cost the same work as a wrong password (R4: no user enumeration).
 */
const dummyHash = hash(`no-such-account-${Math.random()}`, ARGON2_OPTIONS);

export async function verifyPassword(passwordHash: string | null | undefined, password: string): Promise<boolean> {
	const ok = await verify(passwordHash ?? (await dummyHash), password);
	return ok && Boolean(passwordHash);
}

const zxcvbn = new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs });

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 256;

/** NIST SP 800-63B: length, a strength estimate, and not built from the user's own identifiers. */
export function passwordProblems(password: string, userInputs: string[], field = "password"): FieldError[] {
	if (password.length < PASSWORD_MIN) return [{ field, message: `Use at least ${PASSWORD_MIN} characters.` }];
	if (password.length > PASSWORD_MAX) return [{ field, message: `Use at most ${PASSWORD_MAX} characters.` }];
	const lowered = password.toLowerCase();
	const own = userInputs.map((s) => s.toLowerCase()).filter((s) => s.length >= 4);
	if (own.some((s) => lowered.includes(s))) return [{ field, message: "Do not use your user name or email address in your password." }];
	const result = zxcvbn.check(password, own);
	if (result.score < 3) {
		const hint = result.feedback.warning ?? result.feedback.suggestions[0] ?? "Add more words or characters.";
		return [{ field, message: `This password is too easy to guess. ${hint}`.trim() }];
	}
	return [];
}
