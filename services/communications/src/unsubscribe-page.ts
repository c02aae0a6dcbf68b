/** The minimal pages behind the unsubscribe link (R20); no script or style, so the gateway's CSP holds. */
const escapeHtml = (value: string): string =>
	value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

const page = (title: string, body: string): string =>
	`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;

const serviceNote =
	"<p>Messages about your use of the OMTI Customer Portal (account, security, policy notices, request status) are always sent and cannot be turned off.</p>";

/**
 * The link in the mail body opens this page; the button posts the same one-click request a mail
 * client sends, so link scanners that only fetch (GET) never unsubscribe anyone.
 */
export function confirmPage(email: string, alreadyUnsubscribed: boolean, action: string): string {
	if (alreadyUnsubscribed) {
		return page("You are unsubscribed", `<p>${escapeHtml(email)} receives no OMTI offers.</p>${serviceNote}`);
	}
	return page(
		"Unsubscribe from OMTI offers",
		`<p>Stop sending offers about OMTI products and services to ${escapeHtml(email)}?</p>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>
${serviceNote}`,
	);
}

export function donePage(email: string): string {
	return page(
		"You are unsubscribed",
		`<p>${escapeHtml(email)} will receive no more OMTI offers. You can turn them on again in your communication preferences.</p>${serviceNote}`,
	);
}
