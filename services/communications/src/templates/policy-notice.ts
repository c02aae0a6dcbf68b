import { defineTemplate } from "./template";

/** R27: a new policy version, its summary, and the way straight to the preferences. */
export const policyNotice = defineTemplate({
	name: "policy-notice",
	kind: "service",
	subject: "Our privacy policy is changing ({{version}})",
	text: `Hello,

OMTI has published a new version of its privacy policy ({{version}}), in effect from {{effectiveAt}}.

What changes:
{{summary}}

Read the notice: {{noticesUrl}}
Review your privacy and communication preferences: {{preferencesUrl}}

This is a service message; it is sent to every account.

OMTI Customer Portal`,
	html: `<p>Hello,</p>
<p>OMTI has published a new version of its privacy policy ({{version}}), in effect from {{effectiveAt}}.</p>
<p><strong>What changes:</strong></p>
<p style="white-space:pre-line">{{summary}}</p>
<p><a href="{{noticesUrl}}">Read the notice</a> · <a href="{{preferencesUrl}}">Review your preferences</a></p>
<p>This is a service message; it is sent to every account.</p>`,
});
