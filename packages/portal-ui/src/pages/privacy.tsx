import { useState } from "preact/hooks";
import { type ApiError, api, formatDate } from "../api";
import { enumOf, useOperations } from "../openapi";
import { Alert, Card, Checkbox, Field, Form, Loaded, listOf, Page, Select, Success, Table, text, useResource, useSubmit } from "../ui";
import { PolicyNotices } from "./home";
import { humanize } from "./profile";

interface Consent {
	id: string;
	purpose: string;
	recipient: string;
	scope: string[];
	givenAt: string;
	withdrawnAt: string | null;
}
interface PrivacyRequest {
	id: string;
	type: string;
	status: string;
	receivedAt: string;
	dueAt: string;
	completedAt?: string | null;
	downloadExpiresAt?: string | null;
}
interface Centre {
	globalPrivacyControl?: { honoured: boolean; firstSeenAt: string | null; lastSeenAt: string | null };
	requests?: { remainingThisYear: number; nextAvailableAt: string | null };
	policy?: { version: string; effectiveAt: string; summary?: string } | null;
}

function ConsentForm({ onDone }: { onDone: () => void }) {
	const ops = useOperations();
	const purposes = enumOf(ops, "POST", "/api/v1/privacy/consents", "purpose");
	const scopes = enumOf(ops, "POST", "/api/v1/privacy/consents", "scope");
	const [purpose, setPurpose] = useState("");
	const [recipient, setRecipient] = useState("");
	const [scope, setScope] = useState<string[]>([]);
	const { busy, error, run } = useSubmit();
	return (
		<Form
			onSubmit={() =>
				run(async () => {
					await api("POST", "/privacy/consents", { purpose: purpose || purposes[0], recipient, scope });
					setRecipient("");
					setScope([]);
					onDone();
				})
			}
			busy={busy}
			error={error}
			submit="Give consent"
			label="Give a consent"
		>
			<Select
				label="Purpose"
				name="purpose"
				value={purpose || purposes[0] || ""}
				onValue={setPurpose}
				options={purposes.map((p) => [p, humanize(p)])}
				error={error?.forField("purpose")}
			/>
			<Field
				label="Recipient (who receives the information)"
				name="recipient"
				value={recipient}
				onValue={setRecipient}
				error={error?.forField("recipient")}
			/>
			<fieldset>
				<legend>Which parts of your profile</legend>
				{(scopes.length ? scopes : ["name", "contact", "address", "employment", "preferences"]).map((s) => (
					<Checkbox
						key={s}
						name={`scope-${s}`}
						label={humanize(s)}
						checked={scope.includes(s)}
						onChecked={(on) => setScope(on ? [...scope, s] : scope.filter((x) => x !== s))}
					/>
				))}
				{error?.forField("scope") && <p class="field-error">{error.forField("scope")}</p>}
			</fieldset>
		</Form>
	);
}

/** Downloading the inventory needs a fresh sign-in (R25): ask for the password, then follow the link. */
function Download({ request }: { request: PrivacyRequest }) {
	const [open, setOpen] = useState(false);
	const [password, setPassword] = useState("");
	const [ready, setReady] = useState(false);
	const { busy, error, run } = useSubmit();
	const base = `/api/v1/privacy/requests/${encodeURIComponent(request.id)}/download`;
	if (ready)
		return (
			<span class="downloads">
				<a href={`${base}?format=html`}>Readable document</a> · <a href={`${base}?format=json`}>JSON</a>
			</span>
		);
	if (!open)
		return (
			<button type="button" onClick={() => setOpen(true)}>
				Download…
			</button>
		);
	return (
		<Form
			class="inline-form"
			onSubmit={() =>
				run(async () => {
					await api("POST", "/auth/reauthenticate", { password });
					setReady(true);
				})
			}
			busy={busy}
			error={error}
			submit="Confirm"
			label="Confirm your password to download"
		>
			<Field
				label="Your password, to confirm it is you"
				name="password"
				type="password"
				autocomplete="current-password"
				value={password}
				onValue={setPassword}
				error={error?.forField("password")}
			/>
		</Form>
	);
}

export function PrivacyPage() {
	const centre = useResource<Centre>("/privacy/centre");
	const consents = useResource<unknown>("/privacy/consents");
	const disclosures = useResource<unknown>("/privacy/disclosures");
	const requests = useResource<unknown>("/privacy/requests");
	const [californian, setCalifornian] = useState(false);
	const ask = useSubmit();
	const [asked, setAsked] = useState("");
	const [error, setError] = useState<ApiError | null>(null);

	const withdraw = (consent: Consent) => {
		setError(null);
		api("DELETE", `/privacy/consents/${consent.id}`)
			.then(() => consents.reload())
			.catch((err: ApiError) => setError(err));
	};
	const gpc = centre.data?.globalPrivacyControl;

	return (
		<Page title="Privacy centre" intro="Everything about your personal information in one place.">
			<PolicyNotices />
			<Card title="Global Privacy Control">
				{centre.status === "loading" ? (
					<p class="muted">Checking…</p>
				) : gpc?.honoured ? (
					<p>
						<strong>Honoured.</strong> Your browser sent the Global Privacy Control signal
						{gpc.firstSeenAt ? ` (first on ${formatDate(gpc.firstSeenAt)})` : ""}: we treat it as withdrawal of consent to sell or share
						your information.
					</p>
				) : (
					<p>
						Your browser has not sent the Global Privacy Control signal. If you turn it on, we treat it as withdrawal of consent to sell or
						share your information.
					</p>
				)}
			</Card>
			<Card title="Requests for your information">
				<p>
					You can request an inventory of the personal information we hold about you, up to twice a year. We confirm receipt at once and
					answer within 45 days.
				</p>
				{centre.data?.requests && (
					<p class="muted">
						{centre.data.requests.remainingThisYear} request(s) left in the last 12 months
						{centre.data.requests.nextAvailableAt ? `; the next is possible from ${formatDate(centre.data.requests.nextAvailableAt)}` : ""}.
					</p>
				)}
				<Form
					onSubmit={() =>
						ask.run(async () => {
							setAsked("");
							const { data } = await api<PrivacyRequest>("POST", "/privacy/requests", {
								type: "access",
								...(californian ? { californiaResident: true } : {}),
							});
							setAsked(`Request received. It is due by ${formatDate(data.dueAt)}.`);
							await Promise.all([requests.reload(), centre.reload()]);
						})
					}
					busy={ask.busy}
					error={ask.error}
					submit="Request an inventory"
					busyText="Sending…"
					label="Request an inventory"
				>
					<Checkbox name="californiaResident" label="I live in California" checked={californian} onChecked={setCalifornian} />
					{ask.error?.body.nextAvailableAt ? (
						<p class="notice">Your next request is possible from {formatDate(ask.error.body.nextAvailableAt)}.</p>
					) : null}
					{asked && <Success>{asked}</Success>}
				</Form>
				<Loaded resource={requests} what="your requests">
					{(data) => (
						<Table
							caption="Your requests"
							rows={listOf<PrivacyRequest>(data, "requests")}
							empty="No requests yet."
							columns={[
								["Received", (r) => formatDate(r.receivedAt)],
								["Status", (r) => <span class={`status status-${r.status}`}>{humanize(r.status)}</span>],
								["Due", (r) => formatDate(r.dueAt)],
								["Inventory", (r) => (r.status === "completed" ? <Download request={r} /> : "Not ready yet")],
							]}
						/>
					)}
				</Loaded>
			</Card>
			<Card title="Your consents">
				<p class="muted">
					We never sell, rent or share your information without your explicit consent. You can withdraw a consent at any time.
				</p>
				<Alert error={error} />
				<Loaded resource={consents} what="your consents">
					{(data) => (
						<Table
							caption="Your consents"
							rows={listOf<Consent>(data, "consents")}
							empty="You have not given any consent."
							columns={[
								["Purpose", (c) => humanize(c.purpose)],
								["Recipient", (c) => c.recipient],
								["Scope", (c) => c.scope.map(humanize).join(", ")],
								["Given", (c) => formatDate(c.givenAt)],
								[
									"Status",
									(c) =>
										c.withdrawnAt ? (
											`Withdrawn ${formatDate(c.withdrawnAt)}`
										) : (
											<button type="button" class="danger" onClick={() => withdraw(c)}>
												Withdraw <span class="visually-hidden">consent for {c.recipient}</span>
											</button>
										),
								],
							]}
						/>
					)}
				</Loaded>
				{consents.status === "ready" && (
					<details>
						<summary>Give a new consent</summary>
						<ConsentForm onDone={() => void consents.reload()} />
					</details>
				)}
			</Card>
			<Card title="Disclosures about you">
				<Loaded resource={disclosures} what="disclosures">
					{(data) => (
						<Table
							caption="Disclosures"
							rows={listOf<Record<string, unknown>>(data, "disclosures")}
							empty="Your information has not been disclosed to anyone."
							columns={[
								["When", (d) => formatDate(d.disclosedAt ?? d.at ?? d.createdAt)],
								["To", (d) => text(d.recipient)],
								["Legal basis", (d) => text(d.basis)],
								["Reference", (d) => text(d.reference)],
							]}
						/>
					)}
				</Loaded>
			</Card>
			<Card title="More">
				<ul class="links">
					<li>
						<a href="/sharing">Who can see your information</a>
					</li>
					<li>
						<a href="/preferences">Communication preferences</a>
					</li>
					<li>
						<a href="/activity">Your activity and audit trail</a>
					</li>
				</ul>
			</Card>
		</Page>
	);
}
