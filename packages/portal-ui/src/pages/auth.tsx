import { useEffect, useState } from "preact/hooks";
import { ApiError, api, type Me } from "../api";
import { navigate, useLocation } from "../router";
import { signedIn } from "../session";
import { Alert, Field, Form, Page, Success, useSubmit } from "../ui";

/**
 * A first impression of a password's strength: length and character variety. The server (zxcvbn)
 * is the authority and answers 422 with its reasons, shown under the field.
 */
export function passwordStrength(password: string): { score: number; label: string; advice: string } {
	if (!password) return { score: 0, label: "empty", advice: "Use at least 12 characters; a few unrelated words work well." };
	const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
	let score = password.length >= 16 ? 3 : password.length >= 12 ? 2 : password.length >= 8 ? 1 : 0;
	if (classes >= 3 && score > 0) score += 1;
	if (/^(.)\1+$/.test(password) || /^(?:password|123456|qwerty)/i.test(password)) score = 0;
	score = Math.min(score, 4);
	const labels = ["too weak", "weak", "fair", "good", "strong"];
	const advice =
		password.length < 12
			? "Make it longer: 12 characters or more."
			: score < 3
				? "Add more words or mix in other characters."
				: "Looks good.";
	return { score, label: labels[score] as string, advice };
}

function PasswordMeter({ password }: { password: string }) {
	const { score, label, advice } = passwordStrength(password);
	return (
		<div class="meter" aria-live="polite">
			<meter min={0} max={4} low={2} high={3} optimum={4} value={score} aria-label="Password strength" />
			<span>
				Strength: <strong>{label}</strong>. {advice}
			</span>
		</div>
	);
}

const afterSignIn = (query: URLSearchParams) => {
	const next = query.get("next");
	navigate(next?.startsWith("/") && !next.startsWith("//") ? next : "/");
};

export function SignInPage() {
	const { query } = useLocation();
	const [login, setLogin] = useState("");
	const [password, setPassword] = useState("");
	const [totp, setTotp] = useState("");
	const [needsTotp, setNeedsTotp] = useState(false);
	const { busy, error, setError, run } = useSubmit();

	const submit = () =>
		run(async () => {
			try {
				const { data } = await api<{ account: Me }>("POST", "/auth/sign-in", { login, password, ...(needsTotp ? { totp } : {}) });
				signedIn(data.account);
				afterSignIn(query);
			} catch (err) {
				if (err instanceof ApiError && err.code === "TOTP_REQUIRED") {
					setNeedsTotp(true);
					setError(null);
					requestAnimationFrame(() => document.querySelector<HTMLInputElement>("input[name=totp]")?.focus());
					return;
				}
				throw err;
			}
		});

	return (
		<Page title="Sign in" intro="Use the user name from your welcome mail, or your email address.">
			<Form onSubmit={submit} busy={busy} error={error} submit="Sign in" busyText="Signing in…" label="Sign in">
				<Field
					label="User name or email"
					name="login"
					autocomplete="username"
					value={login}
					onValue={setLogin}
					error={error?.forField("login")}
					required
				/>
				<Field
					label="Password"
					name="password"
					type="password"
					autocomplete="current-password"
					value={password}
					onValue={setPassword}
					error={error?.forField("password")}
					required
				/>
				{needsTotp && (
					<Field
						label="Code from your authenticator app"
						name="totp"
						inputMode="numeric"
						autocomplete="one-time-code"
						pattern="[0-9]*"
						value={totp}
						onValue={setTotp}
						error={error?.forField("totp")}
						hint="Your account has a second factor: enter the 6-digit code."
						required
					/>
				)}
			</Form>
			<p>
				<a href="/forgot-password">Forgot your password?</a>
			</p>
		</Page>
	);
}

function ChoosePassword(props: {
	title: string;
	intro: string;
	submit: string;
	onSubmit: (password: string) => Promise<void>;
	tokenError?: string;
}) {
	const [password, setPassword] = useState("");
	const [confirm, setConfirm] = useState("");
	const [mismatch, setMismatch] = useState(false);
	const { busy, error, run } = useSubmit();
	const submit = () => {
		setMismatch(password !== confirm);
		if (password !== confirm) return;
		return run(() => props.onSubmit(password));
	};
	const tokenProblem = error && (error.status === 400 || error.status === 410 || error.forField("token"));
	return (
		<Page title={props.title} intro={props.intro}>
			{props.tokenError && <Alert>{props.tokenError}</Alert>}
			<Form onSubmit={submit} busy={busy} error={error} submit={props.submit} busyText="Saving…" label={props.title}>
				<Field
					label="New password"
					name="password"
					type="password"
					autocomplete="new-password"
					value={password}
					onValue={setPassword}
					error={error?.forField("password")}
					hint={<PasswordMeter password={password} />}
					required
				/>
				<Field
					label="Repeat the password"
					name="confirm"
					type="password"
					autocomplete="new-password"
					value={confirm}
					onValue={setConfirm}
					error={mismatch ? "The two passwords are not the same." : undefined}
					required
				/>
			</Form>
			{tokenProblem && (
				<p>
					This link cannot be used any more. <a href="/forgot-password">Ask for a new link</a> or <a href="/sign-in">sign in</a>.
				</p>
			)}
		</Page>
	);
}

export function ActivatePage() {
	const { query } = useLocation();
	const token = query.get("token") ?? "";
	return (
		<ChoosePassword
			title="Activate your account"
			intro="Choose the password for your OMTI account. We never send passwords by mail."
			submit="Activate account"
			tokenError={token ? undefined : "This page needs the link from your welcome mail."}
			onSubmit={async (password) => {
				const { data } = await api<{ account: Me }>("POST", "/auth/activate", { token, password });
				signedIn(data.account);
				navigate("/?welcome=1");
			}}
		/>
	);
}

export function ResetPasswordPage() {
	const { query } = useLocation();
	const token = query.get("token") ?? "";
	const [done, setDone] = useState(false);
	if (done)
		return (
			<Page title="Password changed">
				<Success>Your password has been changed and your other sessions have ended.</Success>
				<p>
					<a href="/sign-in">Sign in with the new password</a>
				</p>
			</Page>
		);
	return (
		<ChoosePassword
			title="Choose a new password"
			intro="Set a new password for your account."
			submit="Change password"
			tokenError={token ? undefined : "This page needs the link from your password-reset mail."}
			onSubmit={async (password) => {
				await api("POST", "/auth/password-reset/confirm", { token, password });
				setDone(true);
			}}
		/>
	);
}

export function ForgotPasswordPage() {
	const [email, setEmail] = useState("");
	const [sent, setSent] = useState(false);
	const { busy, error, run } = useSubmit();
	return (
		<Page title="Forgot password" intro="We will mail you a link to choose a new password.">
			{sent ? (
				<Success>If an account uses {email}, a link is on its way. It works once and expires soon.</Success>
			) : (
				<Form
					onSubmit={() =>
						run(async () => {
							await api("POST", "/auth/password-reset", { email });
							setSent(true);
						})
					}
					busy={busy}
					error={error}
					submit="Send the link"
					busyText="Sending…"
					label="Forgot password"
				>
					<Field
						label="Email address"
						name="email"
						type="email"
						autocomplete="email"
						value={email}
						onValue={setEmail}
						error={error?.forField("email")}
					/>
				</Form>
			)}
			<p>
				<a href="/sign-in">Back to sign in</a>
			</p>
		</Page>
	);
}

export function ConfirmEmailPage() {
	const { query } = useLocation();
	const token = query.get("token") ?? "";
	const [state, setState] = useState<{ status: "working" | "done" | "failed"; error?: ApiError }>({ status: "working" });
	useEffect(() => {
		api("POST", "/profiles/me/email/confirm", { token })
			.then(() => setState({ status: "done" }))
			.catch((error: ApiError) => setState({ status: "failed", error }));
	}, [token]);
	return (
		<Page title="Confirm your email">
			{state.status === "working" && (
				<p role="status" class="loading">
					<span class="spinner" aria-hidden="true" /> Confirming your new address…
				</p>
			)}
			{state.status === "done" && <Success>Your new email address is confirmed.</Success>}
			{state.status === "failed" && (
				<>
					<Alert error={state.error} />
					{state.error?.status === 401 && (
						<p>
							<a href={`/sign-in?next=${encodeURIComponent(`/confirm-email?token=${token}`)}`}>Sign in</a> and open the link again.
						</p>
					)}
				</>
			)}
		</Page>
	);
}
