import { useEffect, useState } from "preact/hooks";
import { api, formatDate } from "../api";
import { Card, Field, Form, Loaded, listOf, Page, Success, Table, text, useResource, useSubmit } from "../ui";

type Values = Record<string, Record<string, string>>;
type ProfileAnswer = Record<string, unknown>;

const META = new Set(["id", "accountId", "version", "etag", "updatedAt", "createdAt", "pendingEmail", "emailConfirmed", "sections"]);

/** Section → field → value, whether the answer nests fields in `sections` or in top-level objects. */
export function profileValues(profile: ProfileAnswer): { values: Values; nested: boolean } {
	const nestedSections = profile.sections && typeof profile.sections === "object" && !Array.isArray(profile.sections);
	const source = (nestedSections ? profile.sections : profile) as Record<string, unknown>;
	const values: Values = {};
	let nested = false;
	for (const [key, value] of Object.entries(source)) {
		if (META.has(key)) continue;
		if (value && typeof value === "object" && !Array.isArray(value)) {
			nested = true;
			values[key] = Object.fromEntries(
				Object.entries(value as Record<string, unknown>)
					.filter(([k, v]) => !META.has(k) && (v === null || typeof v !== "object"))
					.map(([k, v]) => [k, v === null || v === undefined ? "" : String(v)]),
			);
		} else if (value === null || typeof value !== "object") {
			values.details ??= {};
			values.details[key] = value === null || value === undefined ? "" : String(value);
		}
	}
	return { values, nested };
}

export const humanize = (key: string) =>
	key
		.replace(/([a-z])([A-Z])/g, (_, a: string, b: string) => `${a} ${b.toLowerCase()}`)
		.replace(/[_-]+/g, " ")
		.replace(/^./, (c) => c.toUpperCase());

/** The profile form: every field the answer has, grouped by section; PATCH sends only what changed. */
export function ProfileEditor(props: { path: string; title: string; onSaved?: () => void }) {
	const profile = useResource<ProfileAnswer>(props.path);
	const [values, setValues] = useState<Values>({});
	const [saved, setSaved] = useState(false);
	const { busy, error, run } = useSubmit();
	const shape = profile.data ? profileValues(profile.data) : undefined;
	useEffect(() => {
		if (shape) setValues(shape.values);
	}, [profile.data]);

	const save = () =>
		run(async () => {
			if (!shape) return;
			setSaved(false);
			const patch: Record<string, unknown> = {};
			for (const [section, fields] of Object.entries(values)) {
				for (const [field, value] of Object.entries(fields)) {
					if (shape.values[section]?.[field] === value) continue;
					const next = value === "" ? null : value;
					if (shape.nested && section !== "details") {
						const group = (patch[section] ?? {}) as Record<string, unknown>;
						group[field] = next;
						patch[section] = group;
					} else patch[field] = next;
				}
			}
			if (Object.keys(patch).length === 0) {
				setSaved(true);
				return;
			}
			const headers: Record<string, string> = profile.etag ? { "If-Match": profile.etag } : {};
			await api("PATCH", props.path, patch, headers);
			await profile.reload();
			setSaved(true);
			props.onSaved?.();
		});

	return (
		<Loaded resource={profile} what="the profile">
			{() => (
				<Form onSubmit={save} busy={busy} error={error} submit="Save changes" busyText="Saving…" label={props.title}>
					{error?.status === 412 && (
						<p class="notice">
							Someone changed this information since you opened it.{" "}
							<button type="button" class="link" onClick={() => void profile.reload()}>
								Load the latest version
							</button>{" "}
							and make your change again.
						</p>
					)}
					{Object.entries(values).map(([section, fields]) => (
						<fieldset key={section}>
							<legend>{humanize(section)}</legend>
							{Object.entries(fields).map(([field, value]) => (
								<Field
									key={field}
									label={humanize(field)}
									name={`${section}.${field}`}
									value={value}
									type={field.toLowerCase().includes("email") ? "email" : "text"}
									onValue={(v) => setValues({ ...values, [section]: { ...fields, [field]: v } })}
									error={error?.forField(`${section}.${field}`) ?? error?.forField(field)}
								/>
							))}
						</fieldset>
					))}
					{saved && <Success>Your changes are saved.</Success>}
				</Form>
			)}
		</Loaded>
	);
}

const whoChanged = (by: unknown): string => {
	const kind = (by as { kind?: string } | undefined)?.kind;
	if (kind === "account") return "You";
	if (kind === "system") return "OMTI (from your purchase)";
	return kind ? humanize(kind) : text(by);
};

/** `[{ field: "name.givenName", old, new }]` → "Given name: Ann → Annabel". */
function describeChanges(changes: unknown): string {
	if (!Array.isArray(changes)) return text(changes);
	return changes
		.map((c: { field?: string; old?: unknown; new?: unknown }) => {
			const field = humanize(
				String(c.field ?? "")
					.split(".")
					.pop() ?? "",
			);
			return `${field}: ${c.old ? String(c.old) : "(empty)"} → ${c.new ? String(c.new) : "(empty)"}`;
		})
		.join("; ");
}

export function ProfilePage() {
	const revisions = useResource<unknown>("/profiles/me/revisions");
	return (
		<Page
			title="Your profile"
			intro="By default, only you can see and edit this information. Changing your email needs confirmation from the new address."
		>
			<Card title="Personal information">
				<ProfileEditor path="/profiles/me" title="Personal information" onSaved={() => void revisions.reload()} />
			</Card>
			<Card title="History of changes">
				<Loaded resource={revisions} what="the history">
					{(data) => (
						<Table
							caption="History of changes"
							rows={listOf<Record<string, unknown>>(data, "revisions")}
							empty="No changes yet."
							columns={[
								["When", (r) => formatDate(r.at ?? r.changedAt ?? r.createdAt, true)],
								["Who", (r) => whoChanged(r.by ?? r.actor)],
								["What", (r) => describeChanges(r.changes)],
								["From", (r) => text(r.ip ?? r.source)],
							]}
						/>
					)}
				</Loaded>
			</Card>
		</Page>
	);
}
