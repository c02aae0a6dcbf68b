import { defineTemplate } from "./template";

/** R5: a single-use, one-hour link to choose a new password; never a password. */
export const passwordReset = defineTemplate({
	name: "password-reset",
	kind: "service",
	subject: "Reset your OMTI Customer Portal password",
	text: `Hello {{username}},

someone asked to reset the password of your OMTI Customer Portal account. Choose a new password here
(the link works once and until {{expiresAt}}):
{{resetUrl}}

If you did not ask for this, ignore this mail: your password stays as it is.

OMTI Customer Portal`,
	html: `<p>Hello {{username}},</p>
<p>someone asked to reset the password of your OMTI Customer Portal account.
<a href="{{resetUrl}}">Choose a new password</a> (the link works once and until {{expiresAt}}).</p>
<p>If you did not ask for this, ignore this mail: your password stays as it is.</p>`,
});
