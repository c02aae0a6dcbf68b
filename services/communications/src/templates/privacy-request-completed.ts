import { defineTemplate } from "./template";

/** R26: the inventory is ready; the link leads to the portal, where the password is asked again. */
export const privacyRequestCompleted = defineTemplate({
	name: "privacy-request-completed",
	kind: "service",
	subject: "Your personal information is ready",
	text: `Hello,

The inventory of the personal information OMTI holds about you is ready. Sign in, enter your password
again and download it here, until {{expiresAt}}:
{{statusUrl}}

OMTI Customer Portal`,
	html: `<p>Hello,</p>
<p>The inventory of the personal information OMTI holds about you is ready.</p>
<p><a href="{{statusUrl}}">Sign in, enter your password again and download it</a> until {{expiresAt}}.</p>`,
});
