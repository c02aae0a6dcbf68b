import { formatDate } from "../api";
import { useMe } from "../session";
import { Card, Loaded, listOf, Page, Table, text, useResource } from "../ui";
import { deviceOf } from "./security";

interface Day {
	day: string;
	signIns: number;
	linkClicks: number;
}
interface Summary {
	signIns: { total: number; last30Days: number };
	linkClicks: { total: number; last30Days: number };
	failedSignIns?: { total: number; last30Days: number };
	retentionDays: number;
	recent: { kind: string; at: string; detail?: Record<string, string> }[];
	daily?: Day[];
}

/** Sign-ins and clicks per day as an inline SVG bar chart, with a table of the same numbers for screen readers. */
export function DailyChart({ days }: { days: Day[] }) {
	const width = 600;
	const height = 160;
	const pad = 24;
	const max = Math.max(1, ...days.map((d) => Math.max(d.signIns, d.linkClicks)));
	const slot = (width - pad) / Math.max(1, days.length);
	const bar = Math.max(1, slot / 2 - 1);
	const y = (n: number) => height - pad - (n / max) * (height - 2 * pad);
	return (
		<figure class="chart">
			<svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="chart-title" preserveAspectRatio="none">
				<title id="chart-title">Sign-ins and link clicks per day over the last {days.length} days</title>
				<line x1={pad} y1={height - pad} x2={width} y2={height - pad} class="axis" />
				<text x={2} y={y(max) + 4} class="tick">
					{max}
				</text>
				<text x={2} y={height - pad + 4} class="tick">
					0
				</text>
				{days.map((d, i) => (
					<g key={d.day}>
						<rect x={pad + i * slot} y={y(d.signIns)} width={bar} height={height - pad - y(d.signIns)} class="bar-signins" />
						<rect x={pad + i * slot + bar + 1} y={y(d.linkClicks)} width={bar} height={height - pad - y(d.linkClicks)} class="bar-clicks" />
					</g>
				))}
				{days.length > 0 && (
					<>
						<text x={pad} y={height - 6} class="tick">
							{formatDate(days[0]?.day)}
						</text>
						<text x={width - 4} y={height - 6} class="tick end">
							{formatDate(days[days.length - 1]?.day)}
						</text>
					</>
				)}
			</svg>
			<figcaption>
				<span class="key key-signins" aria-hidden="true" /> Sign-ins <span class="key key-clicks" aria-hidden="true" /> Link clicks
			</figcaption>
		</figure>
	);
}

/** Buckets recent events by day when the summary has no `daily` series. */
function daysFrom(summary: Summary): Day[] {
	if (Array.isArray(summary.daily)) return summary.daily;
	const byDay = new Map<string, Day>();
	for (const event of summary.recent ?? []) {
		const day = String(event.at).slice(0, 10);
		const entry = byDay.get(day) ?? { day, signIns: 0, linkClicks: 0 };
		if (/sign/i.test(event.kind)) entry.signIns++;
		else if (/click/i.test(event.kind)) entry.linkClicks++;
		byDay.set(day, entry);
	}
	return [...byDay.values()].sort((a, b) => a.day.localeCompare(b.day));
}

/** The facts a person recognises: device, address and how; not session ids or raw user agents. */
const detailText = (detail: Record<string, string> | undefined) =>
	[detail?.userAgent ? deviceOf(detail.userAgent) : "", detail?.ip ?? "", detail?.method ?? detail?.reason ?? "", detail?.href ?? ""]
		.filter(Boolean)
		.join(" · ") || "—";

export function ActivityPage() {
	const me = useMe();
	const summary = useResource<Summary>("/activity/me");
	const audit = useResource<unknown>("/activity/me/audit");
	return (
		<Page title="Your activity" intro="The portal counts your sign-ins and the links you click in our mails.">
			<Loaded resource={summary} what="your activity">
				{(s) => (
					<>
						<div class="stats">
							<div class="stat">
								<span class="num">{s.signIns.last30Days}</span> sign-ins in the last 30 days{" "}
								<span class="muted">({s.signIns.total} kept)</span>
							</div>
							<div class="stat">
								<span class="num">{s.linkClicks.last30Days}</span> link clicks in the last 30 days{" "}
								<span class="muted">({s.linkClicks.total} kept)</span>
							</div>
							{s.failedSignIns && (
								<div class="stat">
									<span class="num">{s.failedSignIns.last30Days}</span> failed sign-ins in the last 30 days
								</div>
							)}
						</div>
						<p class="muted">Records are kept for {s.retentionDays} days, then deleted.</p>
						<Card title="Per day">
							<DailyChart days={daysFrom(s)} />
						</Card>
						<Card title="Recent">
							<Table
								caption="Recent activity"
								rows={s.recent ?? []}
								empty="Nothing recorded yet."
								columns={[
									["When", (e) => formatDate(e.at, true)],
									["What", (e) => e.kind.replace(/[_.-]+/g, " ")],
									["Details", (e) => detailText(e.detail)],
								]}
							/>
						</Card>
					</>
				)}
			</Loaded>
			<Card title="Audit trail">
				<p class="muted">Security and privacy events on your account. Each entry is chained to the one before it, so changes would show.</p>
				<Loaded resource={audit} what="the audit trail">
					{(data) => (
						<Table
							caption="Audit trail"
							rows={listOf<Record<string, unknown>>(data, "entries")}
							empty="No entries yet."
							columns={[
								["#", (e) => text(e.seq)],
								["When", (e) => formatDate(e.at, true)],
								["What", (e) => text(e.action)],
								[
									"By",
									(e) =>
										(e.actor as { id?: string } | undefined)?.id === me?.id ? "You" : text((e.actor as { kind?: string })?.kind ?? e.actor),
								],
								["Hash", (e) => <code class="hash">{String(e.hash ?? "").slice(0, 12)}</code>],
							]}
						/>
					)}
				</Loaded>
			</Card>
		</Page>
	);
}
