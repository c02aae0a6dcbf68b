import { defineTemplate } from "./template";

/** R1: a fresh link to choose the first password, when the welcome link expired or got lost. */
export const activationResend = defineTemplate({
	name: "activation-resend",
	kind: "service",
	subject: "Your new OMTI Customer Portal activation link",
	text: `Hello {{username}},

here is a new link to choose the password of your OMTI Customer Portal account
(it works once and until {{expiresAt}}; earlier links no longer work):
{{activationUrl}}

Your user name: {{username}}

We never send passwords by email.

OMTI Customer Portal`,
	html: `<p>Hello {{username}},</p>
<p>here is a <a href="{{activationUrl}}">new link to choose your password</a>
(it works once and until {{expiresAt}}; earlier links no longer work).</p>
<p>Your user name: <strong>{{username}}</strong></p>
<p>We never send passwords by email.</p>`,
});
