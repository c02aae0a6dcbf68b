import type { ServiceBroker } from "moleculer";
import { type JsonSchema, routeContracts } from "./openapi-contract";

/** One group of aliases as the gateway mounts it: `{ "POST /auth/sign-in": "identity.signIn" }` under `prefix`. */
export interface RouteGroup {
	prefix: string;
	aliases: Record<string, unknown>;
	/** How callers authenticate on this group when the action is not public. */
	auth: "session" | "signature";
}

interface ActionInfo {
	params?: Record<string, unknown>;
	access?: unknown;
}

type Operation = Record<string, unknown>;

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);
const PROBLEM_REF = { $ref: "#/components/schemas/Problem" };
const STATUS_TEXT: Record<number, string> = {
	400: "Malformed request",
	401: "Not signed in, or the credentials are wrong",
	403: "Signed in but not allowed",
	404: "Not found (or not shared with you)",
	409: "Conflict with the current state",
	410: "The link or token has expired or was used",
	412: "The resource changed since you read it (If-Match)",
	422: "Invalid fields (see errors[])",
	428: "If-Match is required",
	429: "Too many requests (see Retry-After)",
};

/** The actions every node of the cluster offers, with their params, read from the registry. */
export function actionTable(broker: ServiceBroker): Map<string, ActionInfo> {
	const table = new Map<string, ActionInfo>();
	const services = broker.registry.getServiceList({ withActions: true }) as { actions?: Record<string, ActionInfo> }[];
	for (const service of services) {
		for (const [name, action] of Object.entries(service.actions ?? {})) if (!table.has(name)) table.set(name, action);
	}
	return table;
}

/** fastest-validator's shorthand `"string|min:3|optional"` as a rule object. */
function expandShorthand(rule: string): Record<string, unknown> {
	const [type, ...flags] = rule.split("|");
	const out: Record<string, unknown> = { type: type?.trim() };
	for (const flag of flags) {
		const [key, value] = flag.split(":");
		if (!key) continue;
		out[key.trim()] = value === undefined ? true : Number.isNaN(Number(value)) ? value : Number(value);
	}
	return out;
}

const patternOf = (pattern: unknown): string | undefined =>
	pattern instanceof RegExp ? pattern.source : typeof pattern === "string" ? pattern : undefined;

/** Converts one fastest-validator rule to JSON Schema (2020-12, as OpenAPI 3.1 uses). */
export function ruleToSchema(input: unknown): { schema: JsonSchema; optional: boolean } {
	if (Array.isArray(input)) {
		const variants = input.map((r) => ruleToSchema(r));
		return { schema: { anyOf: variants.map((v) => v.schema) }, optional: variants.every((v) => v.optional) };
	}
	const rule = typeof input === "string" ? expandShorthand(input) : ((input ?? {}) as Record<string, unknown>);
	const optional = rule.optional === true || rule.default !== undefined;
	let schema: JsonSchema;
	switch (rule.type) {
		case "string": {
			schema = { type: "string" };
			if (typeof rule.min === "number") schema.minLength = rule.min;
			if (typeof rule.max === "number") schema.maxLength = rule.max;
			if (typeof rule.length === "number") schema.minLength = schema.maxLength = rule.length;
			if (Array.isArray(rule.enum)) schema.enum = rule.enum;
			const pattern = patternOf(rule.pattern);
			if (pattern) schema.pattern = pattern;
			break;
		}
		case "email":
			schema = { type: "string", format: "email", ...(typeof rule.max === "number" ? { maxLength: rule.max } : {}) };
			break;
		case "uuid":
			schema = { type: "string", format: "uuid" };
			break;
		case "url":
			schema = { type: "string", format: "uri" };
			break;
		case "date":
			schema = { type: "string", format: "date-time" };
			break;
		case "number": {
			schema = { type: rule.integer ? "integer" : "number" };
			if (typeof rule.min === "number") schema.minimum = rule.min;
			if (typeof rule.max === "number") schema.maximum = rule.max;
			if (rule.positive) schema.exclusiveMinimum = 0;
			break;
		}
		case "boolean":
			schema = { type: "boolean" };
			break;
		case "enum":
			schema = { enum: Array.isArray(rule.values) ? rule.values : [] };
			break;
		case "equal":
			schema = { const: rule.value };
			break;
		case "array": {
			schema = { type: "array" };
			if (rule.items !== undefined) schema.items = ruleToSchema(rule.items).schema;
			if (typeof rule.min === "number") schema.minItems = rule.min;
			if (typeof rule.max === "number") schema.maxItems = rule.max;
			if (typeof rule.length === "number") schema.minItems = schema.maxItems = rule.length;
			if (rule.unique) schema.uniqueItems = true;
			break;
		}
		case "object": {
			const props = (rule.props ?? rule.properties) as Record<string, unknown> | undefined;
			schema = props ? objectSchema(props, rule.strict === true) : { type: "object" };
			break;
		}
		case "record":
			schema = { type: "object", additionalProperties: rule.value ? ruleToSchema(rule.value).schema : {} };
			break;
		case "multi":
			return ruleToSchema(rule.rules ?? []);
		default:
			schema = {};
	}
	if (rule.nullable) schema = { anyOf: [schema, { type: "null" }] };
	if (rule.default !== undefined && typeof rule.default !== "function") schema.default = rule.default;
	return { schema, optional };
}

/** A params object (the action's `params`) as an object schema; `$$strict` (ours defaults to true) closes it. */
export function objectSchema(params: Record<string, unknown>, strict: boolean): JsonSchema {
	const properties: Record<string, JsonSchema> = {};
	const required: string[] = [];
	for (const [key, rule] of Object.entries(params)) {
		if (key.startsWith("$$")) continue;
		const { schema, optional } = ruleToSchema(rule);
		properties[key] = schema;
		if (!optional) required.push(key);
	}
	const schema: JsonSchema = { type: "object", properties };
	if (required.length > 0) schema.required = required;
	if (strict) schema.additionalProperties = false;
	return schema;
}

/** Our validator rejects unknown fields unless a schema opts out with `$$strict: "remove"` or false. */
const isStrict = (params: Record<string, unknown>) => params.$$strict === undefined || params.$$strict === true;

function problemResponses(statuses: number[]): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const status of [...new Set(statuses)].sort()) {
		out[String(status)] = { description: STATUS_TEXT[status] ?? "Error", content: { "application/problem+json": { schema: PROBLEM_REF } } };
	}
	out.default = { description: "Unexpected error", content: { "application/problem+json": { schema: PROBLEM_REF } } };
	return out;
}

/** Builds one operation from the alias, its action's params and API.md's contract for it. */
function operation(method: string, path: string, actionName: string, action: ActionInfo | undefined, group: RouteGroup): Operation {
	const key = `${method} ${path}`;
	const contract = routeContracts[key];
	const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
	const params = (action?.params ?? {}) as Record<string, unknown>;
	const isPublic = action?.access === "public" || action?.access === "system";
	const hasBody = method === "POST" || method === "PUT" || method === "PATCH";

	const parameters: Record<string, unknown>[] = pathParams.map((name) => ({
		name,
		in: "path",
		required: true,
		schema: params[name] !== undefined ? ruleToSchema(params[name]).schema : { type: "string" },
	}));
	const bodyParams: Record<string, unknown> = {};
	for (const [name, rule] of Object.entries(params)) {
		if (pathParams.includes(name)) continue;
		if (hasBody || name.startsWith("$$")) bodyParams[name] = rule;
		else {
			const { schema, optional } = ruleToSchema(rule);
			parameters.push({ name, in: "query", required: !optional, schema });
		}
	}
	if (method === "PATCH" && contract?.errors?.includes(412))
		parameters.push({ name: "If-Match", in: "header", required: true, schema: { type: "string" }, description: "The ETag you read" });

	const status = contract?.status ?? 200;
	const success =
		status === 204
			? { description: "Done, no content" }
			: { description: "Success", content: { "application/json": { schema: contract?.response ?? {} } } };
	const errors = [...(contract?.errors ?? []), 404];
	if (Object.keys(params).some((k) => !k.startsWith("$$"))) errors.push(422);
	if (!isPublic) errors.push(401, 403);

	const op: Operation = {
		operationId: actionName.replace(/[^A-Za-z0-9]+/g, "_") + (method === "GET" ? "" : `_${method.toLowerCase()}`),
		summary: contract?.summary ?? sentenceOf(actionName),
		description: `Calls the \`${actionName}\` action.`,
		tags: [actionName.split(".")[0] ?? "portal"],
		parameters,
		responses: { [String(status)]: success, ...problemResponses(errors) },
	};
	if (hasBody && Object.keys(bodyParams).some((k) => !k.startsWith("$$"))) {
		op.requestBody = { required: true, content: { "application/json": { schema: objectSchema(bodyParams, isStrict(params)) } } };
	}
	const roles = (action?.access as { roles?: unknown } | undefined)?.roles;
	if (Array.isArray(roles)) op["x-roles"] = roles;
	if (group.auth === "signature") op.security = [{ purchaseSignature: [] }];
	else op.security = isPublic ? [] : [{ sessionCookie: [], csrfToken: [] }, { bearer: [] }];
	return op;
}

/** `"compliance.publishPolicy"` → "Publish policy": a readable summary where API.md gives none. */
const sentenceOf = (actionName: string) => {
	const words = (actionName.split(".").pop() ?? actionName).replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
	return words.charAt(0).toUpperCase() + words.slice(1);
};

/** `"POST /teams/:id/members"` → `["POST", "/teams/{id}/members"]`; optional groups `{/:x}` are left out. */
export function parseAlias(alias: string): { method: string; path: string } | undefined {
	const match = /^([A-Z]+)\s+(.*)$/.exec(alias.trim());
	if (!match || !METHODS.has(match[1] as string)) return undefined;
	const raw = (match[2] as string).replace(/\{[^}]*\}/g, "");
	const path = `/${raw.replace(/^\/+/, "")}`.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
	return { method: match[1] as string, path };
}

/** An alias maps to `"svc.action"`, to `[...middlewares, "svc.action"]`, or to `{ action: "svc.action" }`. */
function targetAction(target: unknown): string | undefined {
	if (typeof target === "string") return target;
	if (Array.isArray(target)) return target.findLast((t): t is string => typeof t === "string");
	const action = (target as { action?: unknown } | null)?.action;
	return typeof action === "string" ? action : undefined;
}

const join = (prefix: string, path: string) => `${prefix.replace(/\/+$/, "")}${path}`.replace(/\/+$/, "") || "/";

/** The OpenAPI 3.1 document of every public route, from the route table and the live action schemas. */
export function openApiDocument(broker: ServiceBroker, groups: RouteGroup[], version: string): Record<string, unknown> {
	const actions = actionTable(broker);
	const paths: Record<string, Record<string, Operation>> = {};
	const operationIds = new Set<string>();
	for (const group of groups) {
		for (const [alias, target] of Object.entries(group.aliases)) {
			const actionName = targetAction(target);
			const parsed = parseAlias(alias);
			if (!actionName || !parsed) continue;
			const path = join(group.prefix, parsed.path);
			const op = operation(parsed.method, path, actionName, actions.get(actionName), group);
			let id = String(op.operationId);
			for (let n = 2; operationIds.has(id); n++) id = `${op.operationId}_${n}`;
			operationIds.add(id);
			op.operationId = id;
			paths[path] ??= {};
			(paths[path] as Record<string, Operation>)[parsed.method.toLowerCase()] = op;
		}
	}
	Object.assign(paths, infrastructurePaths());
	return {
		openapi: "3.1.0",
		info: {
			title: "OMTI Customer Portal API",
			version,
			description:
				"The portal's public HTTP API. Browsers authenticate with the `portal_session` cookie and send `X-CSRF-Token` (the `portal_csrf` cookie) on every state-changing request; scripts use `Authorization: Bearer <token>` from sign-in. Every error is `application/problem+json`.",
		},
		servers: [{ url: "/" }],
		paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
		components: {
			schemas: {
				Problem: {
					type: "object",
					description: "RFC 9457 problem details",
					properties: {
						type: { type: "string" },
						title: { type: "string" },
						status: { type: "integer" },
						detail: { type: "string" },
						code: { type: "string", description: "Stable machine-readable code, e.g. VALIDATION_ERROR" },
						errors: {
							type: "array",
							items: {
								type: "object",
								properties: { field: { type: "string" }, message: { type: "string" } },
								required: ["field", "message"],
							},
						},
					},
					required: ["type", "title", "status", "detail", "code"],
				},
			},
			securitySchemes: {
				sessionCookie: { type: "apiKey", in: "cookie", name: "portal_session" },
				csrfToken: { type: "apiKey", in: "header", name: "X-CSRF-Token", description: "Equal to the portal_csrf cookie" },
				bearer: { type: "http", scheme: "bearer" },
				purchaseSignature: {
					type: "apiKey",
					in: "header",
					name: "X-OMTI-Signature",
					description: "sha256=<hex HMAC-SHA256 of the raw body with PURCHASE_WEBHOOK_SECRET>",
				},
			},
		},
	};
}

function infrastructurePaths(): Record<string, Record<string, Operation>> {
	const probe = (operationId: string, summary: string, statuses: Record<string, unknown>): Record<string, Operation> => ({
		get: { operationId, summary, tags: ["infrastructure"], security: [], responses: statuses },
	});
	const json = (description: string) => ({ description, content: { "application/json": { schema: { type: "object" } } } });
	return {
		"/healthz": probe("healthz", "Liveness", { "200": json("The process is alive") }),
		"/readyz": probe("readyz", "Readiness (broker, transporter, database)", { "200": json("Ready"), "503": json("Not ready") }),
		"/metrics": probe("metrics", "Prometheus metrics", {
			"200": { description: "Prometheus text format", content: { "text/plain": { schema: { type: "string" } } } },
		}),
		"/api/openapi.json": probe("openapi", "This document", { "200": json("OpenAPI 3.1 document") }),
		"/api/docs": probe("apiDocs", "The API reference page", {
			"200": { description: "HTML", content: { "text/html": { schema: { type: "string" } } } },
		}),
	};
}
