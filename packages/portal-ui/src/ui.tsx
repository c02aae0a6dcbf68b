import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError, api, isNotThere } from "./api";

/** Loads one GET route; a 404/405 means that part of the portal is not there (yet), not a failure. */
export function useResource<T>(path: string | null) {
	const [state, setState] = useState<{ status: "loading" | "ready" | "missing" | "error"; data?: T; error?: ApiError; etag?: string }>({
		status: "loading",
	});
	const load = useCallback(async () => {
		if (!path) return;
		setState((s) => ({ ...s, status: s.data === undefined ? "loading" : s.status }));
		try {
			const res = await api<T>("GET", path);
			setState({ status: "ready", data: res.data, etag: res.headers.get("ETag") ?? undefined });
		} catch (err) {
			const error = err instanceof ApiError ? err : new ApiError(0, { detail: String(err) });
			setState({ status: isNotThere(err) ? "missing" : "error", error });
		}
	}, [path]);
	useEffect(() => {
		void load();
	}, [load]);
	return { ...state, reload: load };
}

/** Renders the loading, missing and error states of a resource, or its content. */
export function Loaded<T>(props: { resource: ReturnType<typeof useResource<T>>; what: string; children: (data: T) => ComponentChildren }) {
	const { resource, what } = props;
	if (resource.status === "loading") return <Loading what={what} />;
	if (resource.status === "missing") return <p class="notice">{`${capitalize(what)} is not available yet on this portal.`}</p>;
	if (resource.status === "error") return <Alert error={resource.error} />;
	return <>{props.children(resource.data as T)}</>;
}

export const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

export function Loading({ what }: { what: string }) {
	return (
		<p class="loading" role="status">
			<span class="spinner" aria-hidden="true" /> Loading {what}…
		</p>
	);
}

export function Alert({ error, children }: { error?: ApiError | null; children?: ComponentChildren }) {
	if (!error && !children) return null;
	const message = error?.status === 404 || error?.status === 405 ? "This action is not available yet on this portal." : error?.message;
	const retry = error?.retryAfterSeconds ? ` Try again in ${Math.ceil(error.retryAfterSeconds / 60)} minute(s).` : "";
	return (
		<div class="alert" role="alert">
			{children ?? `${message}${retry}`}
		</div>
	);
}

export function Success({ children }: { children: ComponentChildren }) {
	return (
		<p class="success" role="status">
			{children}
		</p>
	);
}

type InputProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, "label" | "onInput" | "value"> & {
	label: string;
	name: string;
	value: string;
	onValue: (value: string) => void;
	error?: string;
	hint?: ComponentChildren;
};

/** A labelled input whose server-side error is shown next to it and announced (aria-describedby). */
export function Field({ label, name, value, onValue, error, hint, ...rest }: InputProps) {
	const id = useId();
	const hintId = hint ? `${id}-hint` : undefined;
	const errorId = error ? `${id}-error` : undefined;
	return (
		<div class={`field${error ? " has-error" : ""}`}>
			<label for={id}>{label}</label>
			<input
				{...rest}
				id={id}
				name={name}
				value={value}
				onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
				aria-invalid={error ? "true" : undefined}
				aria-describedby={[hintId, errorId].filter(Boolean).join(" ") || undefined}
			/>
			{hint && (
				<div class="hint" id={hintId}>
					{hint}
				</div>
			)}
			{error && (
				<p class="field-error" id={errorId}>
					{error}
				</p>
			)}
		</div>
	);
}

export function Select(props: {
	label: string;
	name: string;
	value: string;
	onValue: (v: string) => void;
	options: [string, string][];
	error?: string;
}) {
	const id = useId();
	return (
		<div class={`field${props.error ? " has-error" : ""}`}>
			<label for={id}>{props.label}</label>
			<select
				id={id}
				name={props.name}
				value={props.value}
				onChange={(e) => props.onValue((e.currentTarget as HTMLSelectElement).value)}
				aria-invalid={props.error ? "true" : undefined}
				aria-describedby={props.error ? `${id}-error` : undefined}
			>
				{props.options.map(([value, text]) => (
					<option key={value} value={value}>
						{text}
					</option>
				))}
			</select>
			{props.error && (
				<p class="field-error" id={`${id}-error`}>
					{props.error}
				</p>
			)}
		</div>
	);
}

export function Checkbox(props: {
	label: ComponentChildren;
	name: string;
	checked: boolean;
	onChecked: (v: boolean) => void;
	disabled?: boolean;
}) {
	const id = useId();
	return (
		<div class="check">
			<input
				type="checkbox"
				id={id}
				name={props.name}
				checked={props.checked}
				disabled={props.disabled}
				onChange={(e) => props.onChecked((e.currentTarget as HTMLInputElement).checked)}
			/>
			<label for={id}>{props.label}</label>
		</div>
	);
}

/**
 * A form with a busy state: the submit button says what is happening and the request's problem is
 * shown above the fields (field errors go next to each field through `error.forField`).
 */
export function useSubmit() {
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState<ApiError | null>(null);
	const run = useCallback(async (work: () => Promise<void>) => {
		setBusy(true);
		setError(null);
		try {
			await work();
		} catch (err) {
			setError(err instanceof ApiError ? err : new ApiError(0, { detail: String(err) }));
		} finally {
			setBusy(false);
		}
	}, []);
	return { busy, error, setError, run };
}

export function Form(props: {
	onSubmit: () => void | Promise<void>;
	busy: boolean;
	error: ApiError | null;
	submit: string;
	busyText?: string;
	children: ComponentChildren;
	label?: string;
	class?: string;
}) {
	const alertRef = useRef<HTMLDivElement>(null);
	useEffect(() => {
		// Move focus to the first invalid field, or to the summary, so keyboard users land on the problem.
		if (!props.error) return;
		const invalid = alertRef.current?.parentElement?.querySelector<HTMLElement>("[aria-invalid='true']");
		(invalid ?? alertRef.current)?.focus();
	}, [props.error]);
	const fieldMessages = props.error?.errors.length ? props.error.errors : [];
	return (
		<form
			class={props.class ?? "form"}
			aria-label={props.label}
			noValidate
			onSubmit={(e) => {
				e.preventDefault();
				if (!props.busy) void props.onSubmit();
			}}
		>
			<div ref={alertRef} tabIndex={-1} class="form-alert">
				{props.error && (
					<Alert error={props.error}>
						{fieldMessages.length > 0 ? `${props.error.message} Please correct the marked fields.` : undefined}
					</Alert>
				)}
			</div>
			{props.children}
			<button type="submit" class="primary" disabled={props.busy} aria-busy={props.busy ? "true" : undefined}>
				{props.busy ? (props.busyText ?? "Working…") : props.submit}
			</button>
		</form>
	);
}

export function Page(props: { title: string; intro?: ComponentChildren; children: ComponentChildren }) {
	return (
		<>
			<h1 tabIndex={-1} id="page-title">
				{props.title}
			</h1>
			{props.intro && <p class="intro">{props.intro}</p>}
			{props.children}
		</>
	);
}

export function Card(props: { title: string; children: ComponentChildren; id?: string }) {
	const id = useId();
	return (
		<section class="card" aria-labelledby={props.id ?? id}>
			<h2 id={props.id ?? id}>{props.title}</h2>
			{props.children}
		</section>
	);
}

/** A table of records of unknown shape: the named columns, each cell rendered as text. */
export function Table<T>(props: { caption: string; rows: T[]; columns: [string, (row: T) => ComponentChildren][]; empty: string }) {
	if (props.rows.length === 0) return <p class="empty">{props.empty}</p>;
	return (
		<div class="table-wrap">
			<table>
				<caption class="visually-hidden">{props.caption}</caption>
				<thead>
					<tr>
						{props.columns.map(([title]) => (
							<th key={title} scope="col">
								{title}
							</th>
						))}
					</tr>
				</thead>
				<tbody>
					{props.rows.map((row, i) => (
						<tr key={i}>
							{props.columns.map(([title, cell]) => (
								<td key={title} data-label={title}>
									{cell(row)}
								</td>
							))}
						</tr>
					))}
				</tbody>
			</table>
		</div>
	);
}

/** Any JSON value as short readable text (for answers whose shape other services decide). */
export function text(value: unknown): string {
	if (value === null || value === undefined || value === "") return "—";
	if (Array.isArray(value)) return value.map(text).join(", ");
	if (typeof value === "object") {
		return Object.entries(value as Record<string, unknown>)
			.filter(([, v]) => v !== null && v !== undefined)
			.map(([k, v]) => `${k}: ${text(v)}`)
			.join("; ");
	}
	if (typeof value === "boolean") return value ? "yes" : "no";
	return String(value);
}

/** The list inside an answer: the answer itself, or its `items`/`data`/named array. */
export function listOf<T = Record<string, unknown>>(data: unknown, ...keys: string[]): T[] {
	if (Array.isArray(data)) return data as T[];
	if (data && typeof data === "object") {
		for (const key of [...keys, "items", "data", "results"]) {
			const value = (data as Record<string, unknown>)[key];
			if (Array.isArray(value)) return value as T[];
		}
	}
	return [];
}
