import { defineTemplate } from "./template";

/** R6: a change to how the account signs in (second factor on or off, a recovery code used). */
export const securityAlert = defineTemplate({
	name: "security-alert",
	kind: "service",
	subject: "Security notice for your OMTI Customer Portal account",
	text: `Hello {{username}},

{{event}} on {{when}}.

If this was not you, reset your password at once and contact us:
{{portalUrl}}/reset-password

OMTI Customer Portal`,
	html: `<p>Hello {{username}},</p>
<p>{{event}} on {{when}}.</p>
<p>If this was not you, <a href="{{portalUrl}}/reset-password">reset your password</a> at once and contact us.</p>`,
});
