import { useState } from "preact/hooks";
import { type ApiError, api, formatDate } from "../api";
import { useLocation } from "../router";
import { Alert, Card, Checkbox, Field, Form, Loaded, listOf, Page, Select, Success, Table, text, useResource, useSubmit } from "../ui";
import { humanize, ProfileEditor } from "./profile";

const SECTIONS = ["name", "contact", "address", "employment", "preferences"];

interface Grant {
	id: string;
	grantee: { accountId?: string; username?: string | null; teamId?: string; name?: string | null };
	role: string;
	sections: string[] | null;
	expiresAt: string | null;
	expired?: boolean;
}

interface Received {
	id: string;
	owner: { accountId: string; username: string | null };
	via?: { kind: string; name?: string };
	role: string;
	sections: string[] | null;
	expiresAt: string | null;
}

interface Team {
	id: string;
	name: string;
	members?: { accountId: string; username?: string | null }[];
}

const granteeText = (g: Grant["grantee"]) => (g.teamId ? `Team ${g.name ?? g.teamId}` : (g.username ?? g.accountId ?? "—"));
const sectionsText = (s: string[] | null) => (s === null || s.length === 0 ? "Whole profile" : s.map(humanize).join(", "));

function GrantForm({ onDone }: { onDone: () => void }) {
	const teams = useResource<unknown>("/teams");
	const [kind, setKind] = useState("username");
	const [who, setWho] = useState("");
	const [role, setRole] = useState("viewer");
	const [sections, setSections] = useState<string[]>([]);
	const [expires, setExpires] = useState("");
	const [done, setDone] = useState("");
	const { busy, error, run } = useSubmit();
	const teamList = teams.status === "ready" ? listOf<Team>(teams.data, "teams") : [];

	const submit = () =>
		run(async () => {
			setDone("");
			const grantee = kind === "team" ? { teamId: who } : kind === "email" ? { email: who.trim() } : { username: who.trim() };
			const body: Record<string, unknown> = { grantee, role };
			if (sections.length > 0) body.sections = sections;
			if (expires) body.expiresAt = new Date(`${expires}T23:59:59`).toISOString();
			await api("POST", "/shares", body);
			setDone(`Shared with ${kind === "team" ? (teamList.find((t) => t.id === who)?.name ?? "the team") : who}.`);
			setWho("");
			onDone();
		});

	return (
		<Form onSubmit={submit} busy={busy} error={error} submit="Share" busyText="Sharing…" label="Share your information">
			<Select
				label="Share with"
				name="granteeKind"
				value={kind}
				onValue={(v) => {
					setKind(v);
					setWho("");
				}}
				options={[
					["username", "A user, by user name"],
					["email", "A user, by email"],
					...(teamList.length > 0 ? ([["team", "One of my teams"]] as [string, string][]) : []),
				]}
			/>
			{kind === "team" ? (
				<Select
					label="Team"
					name="teamId"
					value={who}
					onValue={setWho}
					options={[["", "Choose a team"], ...teamList.map((t) => [t.id, t.name] as [string, string])]}
					error={error?.forField("grantee")}
				/>
			) : (
				<Field
					label={kind === "email" ? "Their email" : "Their user name"}
					name="grantee"
					type={kind === "email" ? "email" : "text"}
					value={who}
					onValue={setWho}
					error={error?.forField("grantee")}
				/>
			)}
			<Select
				label="They may"
				name="role"
				value={role}
				onValue={setRole}
				options={[
					["viewer", "View (viewer)"],
					["editor", "View and edit (editor)"],
				]}
				error={error?.forField("role")}
			/>
			<fieldset>
				<legend>Sections (none ticked = the whole profile)</legend>
				{SECTIONS.map((s) => (
					<Checkbox
						key={s}
						name={`section-${s}`}
						label={humanize(s)}
						checked={sections.includes(s)}
						onChecked={(on) => setSections(on ? [...sections, s] : sections.filter((x) => x !== s))}
					/>
				))}
				{error?.forField("sections") && <p class="field-error">{error.forField("sections")}</p>}
			</fieldset>
			<Field
				label="Until (optional)"
				name="expiresAt"
				type="date"
				value={expires}
				onValue={setExpires}
				error={error?.forField("expiresAt")}
				hint="Leave empty to share until you revoke."
			/>
			{done && <Success>{done}</Success>}
		</Form>
	);
}

export function SharingPage() {
	const grants = useResource<unknown>("/shares");
	const received = useResource<unknown>("/shares/received");
	const ledger = useResource<unknown>("/shares/ledger");
	const [error, setError] = useState<ApiError | null>(null);
	const [message, setMessage] = useState("");

	const revoke = (grant: Grant) => {
		setError(null);
		api("DELETE", `/shares/${grant.id}`)
			.then(() => {
				setMessage(`Access for ${granteeText(grant.grantee)} was revoked.`);
				return grants.reload();
			})
			.catch((err: ApiError) => setError(err));
	};

	return (
		<Page
			title="Sharing"
			intro="By default you are the only one who can see your information. Share it with a user or team, and revoke at any time."
		>
			<Card title="Share your information">
				<GrantForm onDone={() => void grants.reload()} />
			</Card>
			<Card title="Who can see your information">
				<Alert error={error} />
				{message && <Success>{message}</Success>}
				<Loaded resource={grants} what="your shares">
					{(data) => (
						<Table
							caption="Your shares"
							rows={listOf<Grant>(data, "grants", "shares")}
							empty="Nobody else can see your information."
							columns={[
								["With", (g) => granteeText(g.grantee)],
								["Role", (g) => g.role],
								["Sections", (g) => sectionsText(g.sections)],
								["Until", (g) => (g.expiresAt ? `${formatDate(g.expiresAt)}${g.expired ? " (expired)" : ""}` : "Until revoked")],
								[
									"",
									(g) => (
										<button
											type="button"
											class="danger"
											onClick={() => revoke(g)}
											aria-label={`Revoke access for ${granteeText(g.grantee)}`}
										>
											Revoke
										</button>
									),
								],
							]}
						/>
					)}
				</Loaded>
			</Card>
			<Card title="Shared with me">
				<Loaded resource={received} what="what others share with you">
					{(data) => (
						<Table
							caption="Shared with me"
							rows={listOf<Received>(data, "received", "shares")}
							empty="Nobody shares their information with you."
							columns={[
								["From", (r) => r.owner.username ?? r.owner.accountId],
								["Role", (r) => r.role],
								["Sections", (r) => sectionsText(r.sections)],
								["Via", (r) => (r.via?.kind === "team" ? `Team ${r.via.name ?? ""}` : "You directly")],
								["", (r) => <a href={`/shared?account=${encodeURIComponent(r.owner.accountId)}`}>Open {r.owner.username ?? "profile"}</a>],
							]}
						/>
					)}
				</Loaded>
			</Card>
			<Card title="Privacy ledger: who looked at your information">
				<Loaded resource={ledger} what="the privacy ledger">
					{(data) => (
						<Table
							caption="Privacy ledger"
							rows={listOf<Record<string, unknown>>(data, "entries")}
							empty="Nobody else has read or changed your information."
							columns={[
								["When", (e) => formatDate(e.at, true)],
								["Who", (e) => text(e.actorUsername ?? e.actor ?? e.by)],
								["What", (e) => text(e.action ?? e.kind)],
								["Sections", (e) => text(e.sections ?? e.section)],
							]}
						/>
					)}
				</Loaded>
			</Card>
		</Page>
	);
}

/** Someone else's profile as shared with me: only the granted sections, editable for editors. */
export function SharedProfilePage() {
	const { query } = useLocation();
	const account = query.get("account") ?? "";
	return (
		<Page title="Shared profile" intro="You see only what its owner shares with you. Every read and edit is shown to the owner.">
			{account ? (
				<Card title="Shared information">
					<ProfileEditor path={`/profiles/${encodeURIComponent(account)}`} title="Shared information" />
				</Card>
			) : (
				<Alert>Choose a profile from “Shared with me” on the sharing page.</Alert>
			)}
			<p>
				<a href="/sharing">Back to sharing</a>
			</p>
		</Page>
	);
}

export function TeamsPage() {
	const teams = useResource<unknown>("/teams");
	const [name, setName] = useState("");
	const create = useSubmit();
	const [memberFor, setMemberFor] = useState<Record<string, string>>({});
	const [error, setError] = useState<ApiError | null>(null);

	const addMember = (team: Team) => {
		setError(null);
		const who = (memberFor[team.id] ?? "").trim();
		api("POST", `/teams/${team.id}/members`, who.includes("@") ? { email: who } : { username: who })
			.then(() => {
				setMemberFor({ ...memberFor, [team.id]: "" });
				return teams.reload();
			})
			.catch((err: ApiError) => setError(err));
	};
	const removeMember = (team: Team, accountId: string) => {
		setError(null);
		api("DELETE", `/teams/${team.id}/members/${accountId}`)
			.then(() => teams.reload())
			.catch((err: ApiError) => setError(err));
	};

	return (
		<Page title="Teams" intro="A team lets you share with several people at once.">
			<Card title="New team">
				<Form
					onSubmit={() =>
						create.run(async () => {
							await api("POST", "/teams", { name });
							setName("");
							await teams.reload();
						})
					}
					busy={create.busy}
					error={create.error}
					submit="Create team"
					label="New team"
				>
					<Field label="Team name" name="name" value={name} onValue={setName} error={create.error?.forField("name")} />
				</Form>
			</Card>
			<Card title="Your teams">
				<Alert error={error} />
				<Loaded resource={teams} what="your teams">
					{(data) => {
						const list = listOf<Team>(data, "teams");
						if (list.length === 0) return <p class="empty">No teams yet.</p>;
						return (
							<ul class="teams">
								{list.map((team) => (
									<li key={team.id}>
										<h3>{team.name}</h3>
										<ul>
											{(team.members ?? []).map((m) => (
												<li key={m.accountId}>
													{m.username ?? m.accountId}{" "}
													<button type="button" class="link" onClick={() => removeMember(team, m.accountId)}>
														Remove <span class="visually-hidden">{m.username ?? m.accountId}</span>
													</button>
												</li>
											))}
										</ul>
										<form
											class="inline"
											onSubmit={(e) => {
												e.preventDefault();
												addMember(team);
											}}
										>
											<Field
												label={`Add a member to ${team.name} (user name or email)`}
												name="member"
												value={memberFor[team.id] ?? ""}
												onValue={(v) => setMemberFor({ ...memberFor, [team.id]: v })}
											/>
											<button type="submit">Add</button>
										</form>
									</li>
								))}
							</ul>
						);
					}}
				</Loaded>
			</Card>
		</Page>
	);
}
