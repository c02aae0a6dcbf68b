import { useState } from "preact/hooks";
import { type ApiError, api, formatDate } from "../api";
import { refreshMe, useMe } from "../session";
import { Alert, Card, Field, Form, Loaded, listOf, Page, Success, Table, useResource, useSubmit } from "../ui";

interface SessionView {
	id: string;
	createdAt: string;
	lastUsedAt: string;
	userAgent: string;
	ip: string;
	current: boolean;
}

/** A short device name from the user agent string. */
export function deviceOf(userAgent: string): string {
	const browser = /Firefox|Edg|Chrome|Safari/.exec(userAgent)?.[0]?.replace("Edg", "Edge") ?? "Browser";
	const os = /Windows|Mac OS X|Android|iPhone|iPad|Linux/.exec(userAgent)?.[0]?.replace("Mac OS X", "macOS") ?? "";
	return userAgent ? `${browser}${os ? ` on ${os}` : ""}` : "Unknown device";
}

function ChangePassword() {
	const [currentPassword, setCurrent] = useState("");
	const [newPassword, setNew] = useState("");
	const [done, setDone] = useState(false);
	const { busy, error, run } = useSubmit();
	return (
		<Form
			onSubmit={() =>
				run(async () => {
					setDone(false);
					await api("POST", "/auth/password", { currentPassword, newPassword });
					setCurrent("");
					setNew("");
					setDone(true);
				})
			}
			busy={busy}
			error={error}
			submit="Change password"
			busyText="Changing…"
			label="Change password"
		>
			<Field
				label="Current password"
				name="currentPassword"
				type="password"
				autocomplete="current-password"
				value={currentPassword}
				onValue={setCurrent}
				error={error?.forField("currentPassword")}
			/>
			<Field
				label="New password"
				name="newPassword"
				type="password"
				autocomplete="new-password"
				value={newPassword}
				onValue={setNew}
				error={error?.forField("newPassword")}
			/>
			{done && <Success>Your password is changed. Your other sessions have ended and we sent you a notice.</Success>}
		</Form>
	);
}

function SecondFactor() {
	const me = useMe();
	const [enrolment, setEnrolment] = useState<{ secret: string; otpauthUri: string } | null>(null);
	const [code, setCode] = useState("");
	const [password, setPassword] = useState("");
	const [recovery, setRecovery] = useState<string[]>([]);
	const { busy, error, run } = useSubmit();
	if (!me) return null;
	if (me.mfa)
		return (
			<>
				<p>
					<strong>On.</strong> Signing in asks for a code from your authenticator app.
				</p>
				{recovery.length > 0 && (
					<div class="notice">
						<p>Keep these recovery codes somewhere safe; each works once if you lose your device:</p>
						<ul class="codes">
							{recovery.map((c) => (
								<li key={c}>
									<code>{c}</code>
								</li>
							))}
						</ul>
					</div>
				)}
				<Form
					onSubmit={() =>
						run(async () => {
							await api("DELETE", "/auth/totp", { password });
							setPassword("");
							await refreshMe();
						})
					}
					busy={busy}
					error={error}
					submit="Turn off the second factor"
					label="Turn off the second factor"
				>
					<Field
						label="Your password"
						name="password"
						type="password"
						autocomplete="current-password"
						value={password}
						onValue={setPassword}
					/>
				</Form>
			</>
		);
	if (!enrolment)
		return (
			<>
				<p>Off. A second factor asks for a code from an authenticator app when you sign in.</p>
				<Alert error={error} />
				<button
					type="button"
					class="primary"
					disabled={busy}
					onClick={() =>
						run(async () => {
							const { data } = await api<{ secret: string; otpauthUri: string }>("POST", "/auth/totp");
							setEnrolment(data);
						})
					}
				>
					Set up a second factor
				</button>
			</>
		);
	return (
		<Form
			onSubmit={() =>
				run(async () => {
					const { data } = await api<{ recoveryCodes?: string[] }>("POST", "/auth/totp/confirm", { code });
					setRecovery(data?.recoveryCodes ?? []);
					await refreshMe();
				})
			}
			busy={busy}
			error={error}
			submit="Turn on"
			label="Confirm the second factor"
		>
			<p>
				Add this key to your authenticator app: <code class="secret">{enrolment.secret}</code>
			</p>
			<p class="muted">
				Or open <a href={enrolment.otpauthUri}>the setup link</a> on the device with the app.
			</p>
			<Field
				label="The 6-digit code it shows"
				name="code"
				inputMode="numeric"
				autocomplete="one-time-code"
				value={code}
				onValue={setCode}
				error={error?.forField("code")}
			/>
		</Form>
	);
}

export function SecurityPage() {
	const sessions = useResource<unknown>("/auth/sessions");
	const [error, setError] = useState<ApiError | null>(null);
	const revoke = (path: string) => {
		setError(null);
		api("DELETE", path)
			.then(() => sessions.reload())
			.catch((err: ApiError) => setError(err));
	};
	return (
		<Page title="Sign-in and security">
			<Card title="Where you are signed in">
				<Alert error={error} />
				<Loaded resource={sessions} what="your sessions">
					{(data) => {
						const list = listOf<SessionView>(data, "sessions");
						return (
							<>
								<Table
									caption="Your sessions"
									rows={list}
									empty="No sessions."
									columns={[
										["Device", (s) => `${deviceOf(s.userAgent)}${s.current ? " (this one)" : ""}`],
										["Address", (s) => s.ip || "—"],
										["Signed in", (s) => formatDate(s.createdAt, true)],
										["Last used", (s) => formatDate(s.lastUsedAt, true)],
										[
											"",
											(s) =>
												s.current ? (
													""
												) : (
													<button type="button" class="danger" onClick={() => revoke(`/auth/sessions/${s.id}`)}>
														Sign out <span class="visually-hidden">{deviceOf(s.userAgent)}</span>
													</button>
												),
										],
									]}
								/>
								{list.filter((s) => !s.current).length > 0 && (
									<button type="button" onClick={() => revoke("/auth/sessions")}>
										Sign out everywhere else
									</button>
								)}
							</>
						);
					}}
				</Loaded>
			</Card>
			<Card title="Password">
				<ChangePassword />
			</Card>
			<Card title="Second factor">
				<SecondFactor />
			</Card>
		</Page>
	);
}
