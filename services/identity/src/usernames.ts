/** A readable user name from the email's local part: lower case, letters, digits, `.`, `_`, `-`. */
export function usernameBase(email: string): string {
	const local = email.split("@")[0] ?? "";
	const cleaned = local
		.toLowerCase()
		.normalize("NFKD")
		.replace(/[^a-z0-9._-]/g, "")
		.replace(/^[._-]+|[._-]+$/g, "")
		.slice(0, 30);
	return cleaned.length >= 3 ? cleaned : `user${cleaned}`;
}

/** Candidates in order: `ann.lee`, `ann.lee2`, … `ann.lee9`, then random suffixes. */
export function* usernameCandidates(email: string): Generator<string> {
	const base = usernameBase(email);
	yield base;
	for (let n = 2; n <= 9; n++) yield `${base}${n}`;
	for (;;) yield `${base}-${Math.random().toString(36).slice(2, 7)}`;
}
