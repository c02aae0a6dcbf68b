import { randomBytes, randomUUID } from "node:crypto";
import { type Knex, sha256 } from "@portal/platform";

/**
 * TOTP (RFC 6238, SHA-1, 6 digits, 30 s: what every authenticator app understands) and recovery
 * codes. A code is accepted one step either side of now (clock drift) and only once: the accepted
 * step is stored and an equal or older one is refused (replay within the window).
 */
export const TOTP_ISSUER = "OMTI Customer Portal";
const TOTP_TOLERANCE_SECONDS = 30;
export const RECOVERY_CODE_COUNT = 10;
const recoveryCodes = "identity.recovery_codes";

/** otplib, loaded on first use: only accounts with a second factor need it, not a process start (issue 10). */
const otp = (): typeof import("otplib") => require("otplib");

export const newTotpSecret = (): string => otp().generateSecret({ length: 20 });

export const totpUri = (secret: string, label: string): string => otp().generateURI({ issuer: TOTP_ISSUER, label, secret });

/** The accepted time step, or null when the code is wrong or was already used. */
export function checkTotp(secret: string, code: string, lastStep: number | null): number | null {
	if (!/^\d{6}$/.test(code)) return null;
	const result = otp().verifySync({ secret, token: code, epochTolerance: TOTP_TOLERANCE_SECONDS });
	if (!result.valid) return null;
	const step = (result as { timeStep: number }).timeStep;
	return lastStep !== null && step <= lastStep ? null : step;
}

/**
 * Recovery codes: 80 random bits each, shown once as `xxxx-xxxx-xxxx-xxxx` (base32), stored as
 * SHA-256. At 80 bits a fast hash is enough; a slow one would make sign-in check ten argon2 hashes.
 */
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
function newRecoveryCode(): string {
	const bytes = randomBytes(16);
	const chars = [...bytes].map((b) => BASE32[b % 32]).join("");
	return chars.match(/.{4}/g)?.join("-") ?? chars;
}

const normalizeRecoveryCode = (code: string): string => code.trim().toLowerCase().replace(/[\s-]/g, "");

export const looksLikeRecoveryCode = (code: string): boolean => /^[a-z2-7]{16}$/.test(normalizeRecoveryCode(code));

/** Replaces the account's recovery codes with ten fresh ones; returns them, the only time they exist in clear. */
export async function issueRecoveryCodes(trx: Knex.Transaction, accountId: string): Promise<string[]> {
	await trx(recoveryCodes).where({ account_id: accountId }).delete();
	const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
	await trx(recoveryCodes).insert(
		codes.map((code) => ({ id: randomUUID(), account_id: accountId, code_hash: sha256(normalizeRecoveryCode(code)) })),
	);
	return codes;
}

/** Uses a recovery code once; false when unknown or already used. Safe against two concurrent uses. */
export async function useRecoveryCode(db: Knex, accountId: string, code: string): Promise<boolean> {
	const used = await db(recoveryCodes)
		.where({ account_id: accountId, code_hash: sha256(normalizeRecoveryCode(code)) })
		.whereNull("used_at")
		.update({ used_at: new Date() })
		.returning("id");
	return used.length === 1;
}

export const unusedRecoveryCodes = async (db: Knex, accountId: string): Promise<number> => {
	const [row] = await db(recoveryCodes).where({ account_id: accountId }).whereNull("used_at").count<{ count: string }[]>("id as count");
	return Number(row?.count ?? 0);
};
