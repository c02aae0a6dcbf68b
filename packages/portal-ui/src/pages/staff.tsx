import { useState } from "preact/hooks";
import { api } from "../api";
import { type Operation, type Schema, useOperations } from "../openapi";
import { useMe } from "../session";
import { Card, Checkbox, Field, Form, Loading, listOf, Page, Select, Success, Table, text, useSubmit } from "../ui";
import { humanize } from "./profile";

/**
 * The staff console is built from the OpenAPI document: every `/api/v1/admin/…` operation whose
 * `x-roles` include one of my roles gets a form made from its parameters and body schema. The server
 * enforces the roles; the document only decides what to show.
 */
const GROUPS: [string, RegExp][] = [
	["Policy", /\/admin\/policy/],
	["Privacy requests and questions", /\/admin\/privacy/],
	["Disclosures", /\/admin\/disclosures/],
	["Legal holds", /\/admin\/legal-holds/],
	["Campaigns", /\/admin\/campaigns/],
	["Accounts and agreements", /\/admin\/(accounts|agreements)/],
];

const kindOf = (schema: Schema | undefined): string => {
	if (!schema) return "string";
	if (schema.enum) return "enum";
	const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
	if (type === "array") return schema.items?.enum ? "multi" : "list";
	return type ?? "string";
};

function OperationForm({ op }: { op: Operation }) {
	const fields: [string, Schema | undefined, boolean, "path" | "query" | "body"][] = [
		...op.parameters
			.filter((p) => p.in === "path" || p.in === "query")
			.map((p) => [p.name, p.schema, !!p.required, p.in] as [string, Schema | undefined, boolean, "path" | "query"]),
		...Object.entries(op.body?.properties ?? {}).map(
			([name, schema]) => [name, schema, op.body?.required?.includes(name) ?? false, "body"] as [string, Schema, boolean, "body"],
		),
	];
	const [values, setValues] = useState<Record<string, unknown>>({});
	const [result, setResult] = useState<unknown>();
	const { busy, error, run } = useSubmit();
	const set = (name: string, value: unknown) => setValues({ ...values, [name]: value });

	const submit = () =>
		run(async () => {
			setResult(undefined);
			let path = op.path.replace(/^\/api\/v1/, "");
			const query = new URLSearchParams();
			const body: Record<string, unknown> = {};
			for (const [name, schema, , where] of fields) {
				let value = values[name];
				if (value === undefined || value === "") continue;
				const kind = kindOf(schema);
				if (kind === "number" || kind === "integer") value = Number(value);
				if (kind === "list")
					value = String(value)
						.split(",")
						.map((s) => s.trim())
						.filter(Boolean);
				if (kind === "string" && schema?.format === "date-time") value = new Date(String(value)).toISOString();
				if (where === "path") path = path.replace(`{${name}}`, encodeURIComponent(String(value)));
				else if (where === "query") query.set(name, String(value));
				else body[name] = value;
			}
			const qs = query.toString();
			const hasBody = op.method === "POST" || op.method === "PUT" || op.method === "PATCH";
			const { data, status } = await api(op.method, `${path}${qs ? `?${qs}` : ""}`, hasBody ? body : undefined);
			setResult(data ?? `Done (${status}).`);
		});

	const rows = listOf<Record<string, unknown>>(result);
	return (
		<Form
			onSubmit={submit}
			busy={busy}
			error={error}
			submit={op.method === "GET" ? "Show" : ((op.summary ?? "Send").split(/[.;(]/)[0] ?? "Send")}
			label={op.summary}
		>
			{fields.map(([name, schema, required, where]) => {
				const kind = kindOf(schema);
				const label = `${humanize(name)}${required ? "" : " (optional)"}`;
				if (kind === "boolean")
					return <Checkbox key={name} name={name} label={label} checked={values[name] === true} onChecked={(v) => set(name, v)} />;
				if (kind === "enum")
					return (
						<Select
							key={name}
							label={label}
							name={name}
							value={String(values[name] ?? "")}
							onValue={(v) => set(name, v)}
							options={[["", "Choose…"], ...(schema?.enum ?? []).map((v) => [String(v), humanize(String(v))] as [string, string])]}
							error={error?.forField(name)}
						/>
					);
				return (
					<Field
						key={name}
						label={label}
						name={`${where}-${name}`}
						type={schema?.format === "date-time" ? "datetime-local" : kind === "number" || kind === "integer" ? "number" : "text"}
						value={String(values[name] ?? "")}
						onValue={(v) => set(name, v)}
						hint={
							kind === "list" || kind === "multi"
								? `Comma-separated${schema?.items?.enum ? `: ${schema.items.enum.join(", ")}` : ""}`
								: undefined
						}
						error={error?.forField(name)}
						maxLength={schema?.maxLength}
					/>
				);
			})}
			{result !== undefined &&
				(rows.length > 0 ? (
					<Table
						caption={op.summary ?? op.path}
						rows={rows}
						empty="Nothing."
						columns={Object.keys(rows[0] ?? {})
							.slice(0, 6)
							.map(
								(key) =>
									[humanize(key), (row: Record<string, unknown>) => text(row[key])] as [string, (r: Record<string, unknown>) => string],
							)}
					/>
				) : (
					<Success>{typeof result === "string" ? result : text(result)}</Success>
				))}
		</Form>
	);
}

export function StaffPage() {
	const me = useMe();
	const ops = useOperations();
	if (!ops) return <Loading what="the staff console" />;
	const mine = ops.filter((op) => op.path.startsWith("/api/v1/admin/") && op.roles.some((role) => me?.roles.includes(role)));
	return (
		<Page
			title="Staff console"
			intro={`Signed in as ${me?.username} (${me?.roles.map(humanize).join(", ")}). Every staff action is audited.`}
		>
			{mine.length === 0 && <p class="notice">No staff actions are available for your roles on this portal yet.</p>}
			{GROUPS.map(([title, re]) => {
				const group = mine.filter((op) => re.test(op.path));
				if (group.length === 0) return null;
				return (
					<Card key={title} title={title}>
						{group.map((op) => (
							<details key={op.operationId} class="op">
								<summary>
									<span class={`method ${op.method.toLowerCase()}`}>{op.method}</span> {op.summary ?? op.path}
								</summary>
								<OperationForm op={op} />
							</details>
						))}
					</Card>
				);
			})}
		</Page>
	);
}
