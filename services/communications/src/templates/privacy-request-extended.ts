import { defineTemplate } from "./template";

/** R25: the one 45-day extension is announced with its reason and the new due date. */
export const privacyRequestExtended = defineTemplate({
	name: "privacy-request-extended",
	kind: "service",
	subject: "We need more time for your personal information request",
	text: `Hello,

We need more time to answer your request {{requestId}}. The new due date is {{dueAt}}.
Why: {{reason}}

Status: {{statusUrl}}

OMTI Customer Portal`,
	html: `<p>Hello,</p>
<p>We need more time to answer your request {{requestId}}. The new due date is {{dueAt}}.</p>
<p>Why: {{reason}}</p>
<p><a href="{{statusUrl}}">Follow its status</a>.</p>`,
});
