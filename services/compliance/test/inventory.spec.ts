import { recordJson, withoutSecrets } from "../src/inventory";

/** R26: how the inventory writes records. */
describe("compliance: the inventory's records", () => {
	it("R26: a secret's field is left out at any depth and in any case; a value that only mentions one is kept", () => {
		const records: unknown[] = [
			{ id: 1, at: new Date("2026-03-01T10:34:56.789Z"), detail: { href: "/products/RB9" } },
			{ id: 2, passwordHash: "$argon2id$…", detail: { nested: [{ apiToken: "t0k" }, { TOTP_Secret: "s" }] } },
			{ id: 3, 'recovery"code': "r", recovery_codes: ["a"] },
			{ id: 4, detail: { note: "reset my password, the token expired" } },
			{ id: 5, detail: null, tags: ["secret santa"] },
		];
		for (const record of records) expect(recordJson(record)).toBe(JSON.stringify(withoutSecrets(record)));
		const written = records.map(recordJson).join("\n");
		for (const leaked of ["argon2id", "t0k", '"s"', '"r"', '["a"]']) expect(written).not.toContain(leaked);
		expect(written).toContain("reset my password, the token expired");
		expect(written).toContain("secret santa");
		expect(recordJson(records[0])).toBe('{"id":1,"at":"2026-03-01T10:34:56.789Z","detail":{"href":"/products/RB9"}}');
	});
});
