import { createHmac, hash, randomBytes, timingSafeEqual } from "node:crypto";

/** A secret for a link or a session: 32 random bytes, URL-safe. Only its hash is ever stored. */
export const newToken = (): string => randomBytes(32).toString("base64url");

/** One-shot: a sha256 per request (session lookup) costs a fifth of createHash().update().digest(). */
export const sha256 = (value: string): string => hash("sha256", value, "hex");

export const hmacSha256 = (secret: string, value: string | Buffer): string => createHmac("sha256", secret).update(value).digest("hex");

/** Compares two strings in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
	const left = Buffer.from(a);
	const right = Buffer.from(b);
	return left.length === right.length && timingSafeEqual(left, right);
}
