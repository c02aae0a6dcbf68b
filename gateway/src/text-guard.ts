/** NUL, or a UTF-16 surrogate without its partner: text Postgres cannot store (as text or in JSON). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export interface RefusedField {
	field: string;
	message: string;
}

/**
 * The first field (dotted path) of a request's body or params that no action may receive:
 * - text Postgres cannot store, which a service would otherwise turn into a database error (500);
 * - a `__proto__` key, which JSON.parse keeps as an own property but merging the body into the
 *   action's params turns into the params' prototype, hiding it from the strict validator.
 * Iterative, because bodies may be nested thousands of levels deep.
 */
export function refusedField(input: unknown): RefusedField | undefined {
	const stack: [unknown, string][] = [[input, ""]];
	while (stack.length > 0) {
		const [value, path] = stack.pop() as [unknown, string];
		if (typeof value === "string") {
			if (UNSTORABLE.test(value)) return { field: path, message: "contains a NUL character or an unpaired surrogate" };
		} else if (value !== null && typeof value === "object") {
			for (const [key, child] of Object.entries(value)) {
				const childPath = path ? `${path}.${key}` : key;
				if (key === "__proto__") return { field: childPath, message: "is not an allowed field name" };
				if (UNSTORABLE.test(key)) return { field: childPath, message: "contains a NUL character or an unpaired surrogate" };
				stack.push([child, childPath]);
			}
		}
	}
	return undefined;
}
