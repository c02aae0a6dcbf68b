import { defineTemplate } from "./template";

/** R10: the contact email changes only once the new address confirms with this single-use link. */
export const emailChange = defineTemplate({
	name: "email-change",
	kind: "service",
	subject: "Confirm your new email address for the OMTI Customer Portal",
	text: `Hello {{name}},

you asked to use {{newEmail}} as the email address of your OMTI Customer Portal profile.
Confirm it here (the link works once and until {{expiresAt}}):
{{confirmUrl}}

If you did not ask for this, ignore this mail: nothing changes without your confirmation.

OMTI Customer Portal`,
	html: `<p>Hello {{name}},</p>
<p>you asked to use <strong>{{newEmail}}</strong> as the email address of your OMTI Customer Portal profile.</p>
<p><a href="{{confirmUrl}}">Confirm your new email address</a> (the link works once and until {{expiresAt}}).</p>
<p>If you did not ask for this, ignore this mail: nothing changes without your confirmation.</p>`,
});
