/**
 * The API reference at `/api/docs`: HTML rendered here from the OpenAPI document, with its own
 * stylesheet and script files (the CSP allows no inline code and no CDN).
 */
type Doc = Record<string, unknown>;
type Schema = Record<string, unknown>;

const esc = (value: unknown): string =>
	String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

/** A short, readable rendering of a JSON Schema: `{ login: string(1..254), totp?: string }`. */
export function describeSchema(schema: Schema | undefined, depth = 0): string {
	if (!schema || Object.keys(schema).length === 0) return "JSON";
	if (typeof schema.$ref === "string") return schema.$ref.split("/").pop() ?? "object";
	if (Array.isArray(schema.anyOf)) return (schema.anyOf as Schema[]).map((s) => describeSchema(s, depth)).join(" | ");
	if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
	if ("const" in schema) return JSON.stringify(schema.const);
	if (schema.type === "array") return `${describeSchema(schema.items as Schema, depth)}[]`;
	if (schema.type === "object" && schema.properties && depth < 3) {
		const required = new Set((schema.required as string[] | undefined) ?? []);
		const fields = Object.entries(schema.properties as Record<string, Schema>).map(
			([name, s]) => `${name}${required.has(name) ? "" : "?"}: ${describeSchema(s, depth + 1)}`,
		);
		return `{ ${fields.join(", ")} }`;
	}
	const type = String(schema.format ?? schema.type ?? "JSON");
	const min = schema.minLength ?? schema.minimum ?? schema.minItems;
	const max = schema.maxLength ?? schema.maximum ?? schema.maxItems;
	return min !== undefined || max !== undefined ? `${type}(${min ?? ""}..${max ?? ""})` : type;
}

export function renderApiDocs(doc: Doc): string {
	const info = doc.info as { title: string; version: string; description: string };
	const paths = doc.paths as Record<string, Record<string, Schema>>;
	const rows: string[] = [];
	for (const [path, methods] of Object.entries(paths)) {
		for (const [method, op] of Object.entries(methods)) {
			const id = esc(op.operationId);
			const params = ((op.parameters as Schema[] | undefined) ?? []).map(
				(p) =>
					`<li><code>${esc(p.name)}</code> <span class="in">${esc(p.in)}</span>${p.required ? "" : " (optional)"}: ${esc(describeSchema(p.schema as Schema))}</li>`,
			);
			const body = (op.requestBody as Schema | undefined)?.content as Record<string, { schema: Schema }> | undefined;
			const responses = Object.entries(op.responses as Record<string, Schema>).map(([status, r]) => {
				const content = r.content as Record<string, { schema: Schema }> | undefined;
				const [type, media] = Object.entries(content ?? {})[0] ?? [];
				return `<li><code>${esc(status)}</code> ${esc(r.description)}${type ? ` <span class="in">${esc(type)}</span> ${esc(describeSchema(media?.schema))}` : ""}</li>`;
			});
			const security = (op.security as Schema[] | undefined)?.length ? "signed in" : "public";
			rows.push(`<section class="op" id="${id}" data-search="${esc(`${method} ${path} ${op.summary}`.toLowerCase())}">
<h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p>${esc(op.summary)} <span class="tag">${security}</span></p>
${params.length ? `<h4>Parameters</h4><ul>${params.join("")}</ul>` : ""}
${body ? `<h4>Body</h4><p><code>${esc(describeSchema(body["application/json"]?.schema))}</code></p>` : ""}
<h4>Responses</h4><ul>${responses.join("")}</ul>
</section>`);
		}
	}
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} reference</title><link rel="stylesheet" href="/api/docs/docs.css"><script src="/api/docs/docs.js" defer></script></head>
<body><header><h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
<p>${esc(info.description)}</p>
<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1). Errors use the <code>Problem</code> shape: <code>{ type, title, status, detail, code, errors?: [{ field, message }] }</code>.</p>
<label for="filter">Filter routes</label> <input id="filter" type="search" autocomplete="off"></header>
<main>${rows.join("\n")}</main></body></html>
`;
}

export const API_DOCS_CSS = `:root{color-scheme:light;font-family:system-ui,sans-serif;line-height:1.5;color:#1b1f24;background:#fff}
body{margin:0 auto;max-width:60rem;padding:1rem}
header{border-bottom:1px solid #c9ced6;margin-bottom:1rem}
code{font-family:ui-monospace,monospace;background:#f1f3f6;padding:0 .25rem;border-radius:3px;word-break:break-word}
.op{border:1px solid #c9ced6;border-radius:6px;padding:.5rem 1rem;margin:.75rem 0}
.op[hidden]{display:none}
.op h3{margin:.25rem 0;font-size:1.05rem}
.op h4{margin:.5rem 0 .25rem;font-size:.95rem}
.method{display:inline-block;min-width:4.5rem;text-align:center;border-radius:4px;color:#fff;background:#3d4752;padding:0 .4rem}
.method.get{background:#0b5cad}.method.post{background:#166534}.method.put,.method.patch{background:#8a4b00}.method.delete{background:#a4161a}
.tag,.in{font-size:.8rem;color:#434b55;border:1px solid #c9ced6;border-radius:3px;padding:0 .3rem}
input{font:inherit;padding:.25rem .5rem;margin:0 0 1rem}
:focus-visible{outline:3px solid #0b5cad;outline-offset:2px}
`;

export const API_DOCS_JS = `document.addEventListener("DOMContentLoaded", function () {
	var input = document.getElementById("filter");
	var ops = Array.prototype.slice.call(document.querySelectorAll(".op"));
	input.addEventListener("input", function () {
		var q = input.value.trim().toLowerCase();
		ops.forEach(function (op) { op.hidden = q !== "" && op.getAttribute("data-search").indexOf(q) === -1; });
	});
});
`;
