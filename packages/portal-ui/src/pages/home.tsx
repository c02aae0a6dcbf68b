import { useState } from "preact/hooks";
import { type ApiError, api, formatDate } from "../api";
import { useLocation } from "../router";
import { useMe } from "../session";
import { Alert, Card, listOf, Page, Success, useResource } from "../ui";

interface Notice {
	version: string;
	summary?: string;
	effectiveAt?: string;
	acknowledgedAt?: string | null;
}

/** The policy notice banner (R27): unacknowledged versions, with a link straight to the preferences. */
export function PolicyNotices() {
	const notices = useResource<unknown>("/policy/notices");
	const [error, setError] = useState<ApiError | null>(null);
	if (notices.status !== "ready") return null;
	const open = listOf<Notice>(notices.data, "notices").filter((n) => !n.acknowledgedAt);
	if (open.length === 0) return null;
	return (
		<>
			{open.map((notice) => (
				<section key={notice.version} class="banner" aria-label={`Privacy policy ${notice.version}`}>
					<h2>Our privacy policy has changed (version {notice.version})</h2>
					{notice.summary && <p>{notice.summary}</p>}
					{notice.effectiveAt && <p>In force from {formatDate(notice.effectiveAt)}.</p>}
					<p>
						You can review your choices in <a href="/preferences">communication preferences</a> and the{" "}
						<a href="/privacy">privacy centre</a>.
					</p>
					<button
						type="button"
						class="primary"
						onClick={() =>
							api("POST", `/policy/notices/${encodeURIComponent(notice.version)}/ack`)
								.then(() => notices.reload())
								.catch((err: ApiError) => setError(err))
						}
					>
						I have read this
					</button>
				</section>
			))}
			<Alert error={error} />
		</>
	);
}

export function HomePage() {
	const me = useMe();
	const { query } = useLocation();
	if (!me) return null;
	return (
		<Page title={`Welcome, ${me.username}`}>
			{query.get("welcome") && <Success>Your account is active. You are signed in.</Success>}
			<PolicyNotices />
			<div class="grid">
				<Card title="Your products">
					{me.products.length === 0 ? (
						<p class="empty">No products yet.</p>
					) : (
						<ul class="products">
							{me.products.map((p) => (
								<li key={p.code}>
									<strong>{p.name ?? p.code}</strong> <span class="muted">({p.code})</span>
									<br />
									<span class="muted">since {formatDate(p.since)}</span>
								</li>
							))}
						</ul>
					)}
				</Card>
				<Card title="Your account">
					<dl class="facts">
						<dt>User name</dt>
						<dd>{me.username}</dd>
						<dt>Email</dt>
						<dd>{me.email}</dd>
						<dt>Second factor</dt>
						<dd>{me.mfa ? "On" : "Off"}</dd>
					</dl>
					<p>
						<a href="/security">Sign-in and security</a>
					</p>
				</Card>
				<Card title="Your information">
					<ul class="links">
						<li>
							<a href="/profile">View and edit your profile</a>
						</li>
						<li>
							<a href="/sharing">Choose who can see it</a>
						</li>
						<li>
							<a href="/privacy">Privacy centre: consents, disclosures, requests</a>
						</li>
						<li>
							<a href="/activity">Your activity</a>
						</li>
					</ul>
				</Card>
			</div>
		</Page>
	);
}
