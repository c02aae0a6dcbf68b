import { useEffect, useState } from "preact/hooks";

/** The gateway's OpenAPI document: the UI reads enums and the staff operations from it. */
export type Schema = {
	type?: string | string[];
	format?: string;
	enum?: unknown[];
	const?: unknown;
	properties?: Record<string, Schema>;
	required?: string[];
	items?: Schema;
	anyOf?: Schema[];
	minLength?: number;
	maxLength?: number;
	minimum?: number;
	maximum?: number;
	pattern?: string;
};

export interface Operation {
	method: string;
	path: string;
	operationId: string;
	summary?: string;
	roles: string[];
	parameters: { name: string; in: string; required?: boolean; schema?: Schema }[];
	body?: Schema;
}

let cached: Promise<Operation[]> | undefined;

export function loadOperations(): Promise<Operation[]> {
	cached ??= fetch("/api/openapi.json", { credentials: "same-origin" })
		.then((r) => (r.ok ? r.json() : { paths: {} }))
		.then((doc: { paths: Record<string, Record<string, Record<string, unknown>>> }) =>
			Object.entries(doc.paths).flatMap(([path, methods]) =>
				Object.entries(methods).map(([method, op]) => ({
					method: method.toUpperCase(),
					path,
					operationId: String(op.operationId),
					summary: op.summary as string | undefined,
					roles: (op["x-roles"] as string[] | undefined) ?? [],
					parameters: (op.parameters as Operation["parameters"] | undefined) ?? [],
					body: (op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)?.content?.["application/json"]?.schema,
				})),
			),
		)
		.catch(() => []);
	return cached;
}

export function useOperations(): Operation[] | undefined {
	const [ops, setOps] = useState<Operation[]>();
	useEffect(() => {
		void loadOperations().then(setOps);
	}, []);
	return ops;
}

/** The values a field of an operation's body allows, e.g. consent purposes. */
export function enumOf(ops: Operation[] | undefined, method: string, path: string, field: string): string[] {
	const schema = ops?.find((o) => o.method === method && o.path === path)?.body?.properties?.[field];
	const values = schema?.enum ?? schema?.items?.enum;
	return Array.isArray(values) ? values.map(String) : [];
}
