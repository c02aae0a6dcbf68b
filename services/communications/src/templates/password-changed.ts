import { defineTemplate } from "./template";

/** R5: the notice after a password change or reset; a service mail nobody can opt out of (R19). */
export const passwordChanged = defineTemplate({
	name: "password-changed",
	kind: "service",
	subject: "Your OMTI Customer Portal password was changed",
	text: `Hello {{username}},

the password of your OMTI Customer Portal account was changed on {{when}}. Every other session was signed out.

If you did not do this, reset your password at once and contact us:
{{portalUrl}}/reset-password

OMTI Customer Portal`,
	html: `<p>Hello {{username}},</p>
<p>the password of your OMTI Customer Portal account was changed on {{when}}. Every other session was signed out.</p>
<p>If you did not do this, <a href="{{portalUrl}}/reset-password">reset your password</a> at once and contact us.</p>`,
});
