import { defineTemplate } from "./template";

/** R1: user name and a single-use link to choose a password; never a password. */
export const welcome = defineTemplate({
	name: "welcome",
	kind: "service",
	subject: "Your OMTI Customer Portal account",
	text: `Hello {{name}},

thank you for choosing {{productName}}. Your OMTI Customer Portal account is ready.

Your user name: {{username}}

Choose your password here (the link works once and until {{expiresAt}}):
{{activationUrl}}

We never send passwords by email.

OMTI Customer Portal`,
	html: `<p>Hello {{name}},</p>
<p>thank you for choosing {{productName}}. Your OMTI Customer Portal account is ready.</p>
<p>Your user name: <strong>{{username}}</strong></p>
<p><a href="{{activationUrl}}">Choose your password</a> (the link works once and until {{expiresAt}}).</p>
<p>We never send passwords by email.</p>`,
});
