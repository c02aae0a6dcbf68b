import { defineTemplate } from "./template";

/** R32: a privacy question is acknowledged by mail. */
export const privacyInquiryReceived = defineTemplate({
	name: "privacy-inquiry-received",
	kind: "service",
	subject: "We received your privacy question",
	text: `Hello,

We received your question "{{subject}}". Our compliance team will answer you in the portal:
{{inquiryUrl}}

OMTI Customer Portal`,
	html: `<p>Hello,</p>
<p>We received your question "{{subject}}". Our compliance team will answer you <a href="{{inquiryUrl}}">in the portal</a>.</p>`,
});
