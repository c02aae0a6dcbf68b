import { Readable } from "node:stream";
import type { PersonalDataDescription, PersonalDataExportPage } from "@portal/contracts";
import type { ServiceBroker } from "moleculer";

/**
 * The CCPA inventory (R26), assembled from every service's personal-data contract. Services are found
 * in the registry by their `<name>.personalData` action, so a service added later is included without
 * touching compliance. Exports are paged (contracts: PersonalDataExportPage) and written to the client
 * page by page: memory stays flat however long an account's history is.
 */
const CALL = { timeout: 30_000 };

/** Field names that would carry a secret (password hashes, tokens, TOTP secrets). Services must not export them; this is the second fence. */
const SECRET_FIELD = /password|secret|token|totp|recovery.?code/i;

export function personalDataServices(broker: ServiceBroker): string[] {
	const list = broker.registry.getServiceList({ withActions: true }) as {
		name: string;
		fullName?: string;
		actions?: Record<string, unknown>;
	}[];
	const names = new Set<string>();
	for (const service of list) {
		const name = service.fullName ?? service.name;
		if (service.actions?.[`${name}.personalData`]) names.add(name);
	}
	return [...names].sort();
}

/** A service's description, with the registry name its export is asked under. */
export interface DescribedService {
	name: string;
	description: PersonalDataDescription;
}

export async function describeAll(broker: ServiceBroker): Promise<DescribedService[]> {
	const names = personalDataServices(broker);
	return Promise.all(
		names.map(async (name) => ({
			name,
			description: await broker.call<PersonalDataDescription, { op: "describe" }>(`${name}.personalData`, { op: "describe" }, CALL),
		})),
	);
}

async function* exportPages(broker: ServiceBroker, service: string, accountId: string): AsyncGenerator<Record<string, unknown[]>> {
	let cursor: string | undefined;
	do {
		const params = cursor === undefined ? { op: "export", accountId } : { op: "export", accountId, cursor };
		const page = await broker.call<PersonalDataExportPage, typeof params>(`${service}.personalData`, params, CALL);
		yield page.records ?? {};
		cursor = page.nextCursor;
	} while (cursor !== undefined);
}

export function withoutSecrets(value: unknown): unknown {
	if (Array.isArray(value)) return value.map(withoutSecrets);
	if (value instanceof Date) return value.toISOString();
	if (value && typeof value === "object") {
		const out: Record<string, unknown> = {};
		for (const [key, inner] of Object.entries(value)) if (!SECRET_FIELD.test(key)) out[key] = withoutSecrets(inner);
		return out;
	}
	return value;
}

/** Every key SECRET_FIELD matches contains one of these words, in letters JSON never escapes. */
const SECRET_WORD = /password|secret|token|totp|recovery/i;

/**
 * A record as JSON, without secrets. Copying every record through withoutSecrets before writing it
 * was ~15 % of the inventory's CPU, so the record is written as it is, and only a text that holds one
 * of the words anywhere (in a key, or merely in a value) is written again through withoutSecrets: a
 * secret's key cannot be in the text without its word. The output is the same either way (both write
 * a Date as its ISO string).
 */
export function recordJson(record: unknown): string {
	const json = JSON.stringify(record);
	return SECRET_WORD.test(json) ? JSON.stringify(withoutSecrets(record)) : json;
}

export interface InventoryHeader {
	requestId: string;
	accountId: string;
	receivedAt: string;
	residencyBasis: string;
	generatedAt: string;
}

async function* jsonChunks(broker: ServiceBroker, header: InventoryHeader, descriptions: DescribedService[]): AsyncGenerator<string> {
	yield `{"inventory":${JSON.stringify(header)},"services":[`;
	for (const [i, { name, description }] of descriptions.entries()) {
		const { service, categories } = withoutSecrets(description) as PersonalDataDescription;
		yield `${i > 0 ? "," : ""}{"service":${JSON.stringify(service)},"categories":${JSON.stringify(categories)},"records":[`;
		let first = true;
		for await (const records of exportPages(broker, name, header.accountId)) {
			const parts: string[] = [];
			for (const [collection, rows] of Object.entries(records)) {
				const open = `{"collection":${JSON.stringify(collection)},"record":`;
				for (const row of rows) parts.push(`${open}${recordJson(row)}}`);
			}
			if (parts.length === 0) continue;
			yield `${first ? "" : ","}${parts.join(",")}`;
			first = false;
		}
		yield "]}";
	}
	yield "]}";
}

const escapeHtml = (value: unknown): string =>
	String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

const cell = (value: unknown): string => escapeHtml(typeof value === "object" && value !== null ? JSON.stringify(value) : value);

async function* htmlChunks(broker: ServiceBroker, header: InventoryHeader, descriptions: DescribedService[]): AsyncGenerator<string> {
	yield `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Your personal information at OMTI</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top}</style></head><body>
<h1>Your personal information at OMTI</h1>
<p>Request ${escapeHtml(header.requestId)}, received ${escapeHtml(header.receivedAt)}, generated ${escapeHtml(header.generatedAt)}.</p>`;
	for (const { name, description } of descriptions) {
		const { service, categories } = withoutSecrets(description) as PersonalDataDescription;
		yield `<section><h2>${escapeHtml(service)}</h2><table><thead><tr><th>Category</th><th>Fields</th><th>Purpose</th><th>Source</th><th>Recipients</th><th>Retention</th></tr></thead><tbody>`;
		yield categories
			.map(
				(c) =>
					`<tr><td>${escapeHtml(c.category)}</td><td>${escapeHtml(c.fields.join(", "))}</td><td>${escapeHtml(c.purpose)}</td><td>${escapeHtml(c.source)}</td><td>${escapeHtml(c.recipients.join(", ") || "none")}</td><td>${escapeHtml(c.retention)}</td></tr>`,
			)
			.join("");
		yield "</tbody></table>";
		let open: string | undefined;
		for await (const records of exportPages(broker, name, header.accountId)) {
			const parts: string[] = [];
			for (const [collection, rows] of Object.entries(records)) {
				for (const row of rows) {
					const clean = withoutSecrets(row) as Record<string, unknown>;
					if (collection !== open) {
						if (open !== undefined) parts.push("</tbody></table>");
						parts.push(`<h3>${escapeHtml(collection)}</h3><table><tbody>`);
						open = collection;
					}
					parts.push(
						`<tr>${Object.entries(clean)
							.map(([k, v]) => `<th>${escapeHtml(k)}</th><td>${cell(v)}</td>`)
							.join("")}</tr>`,
					);
				}
			}
			if (parts.length > 0) yield parts.join("");
		}
		if (open !== undefined) yield "</tbody></table>";
		yield "</section>";
	}
	yield "</body></html>";
}

/** The inventory as a stream that pulls the next page only when the client has taken the previous one. */
export function inventoryStream(
	broker: ServiceBroker,
	format: "json" | "html",
	header: InventoryHeader,
	descriptions: DescribedService[],
): Readable {
	const chunks = format === "json" ? jsonChunks(broker, header, descriptions) : htmlChunks(broker, header, descriptions);
	return Readable.from(chunks, { objectMode: false, highWaterMark: 64 * 1024 });
}
