import { defineTemplate } from "./template";

/** R25: a privacy request is acknowledged at once, with its due date. */
export const privacyRequestReceived = defineTemplate({
	name: "privacy-request-received",
	kind: "service",
	subject: "We received your request for your personal information",
	text: `Hello,

We received your request for the personal information OMTI holds about you on {{receivedAt}}.
We will answer by {{dueAt}}. You can follow its status here:
{{statusUrl}}

Before the information is released you will be asked to enter your password again.

OMTI Customer Portal`,
	html: `<p>Hello,</p>
<p>We received your request for the personal information OMTI holds about you on {{receivedAt}}. We will answer by {{dueAt}}.</p>
<p><a href="{{statusUrl}}">Follow its status</a>. Before the information is released you will be asked to enter your password again.</p>`,
});
