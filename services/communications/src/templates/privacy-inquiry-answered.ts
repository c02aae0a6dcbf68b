import { defineTemplate } from "./template";

/** R32: the answer is in the portal (not in the mail, which may be read by others). */
export const privacyInquiryAnswered = defineTemplate({
	name: "privacy-inquiry-answered",
	kind: "service",
	subject: "Your privacy question has been answered",
	text: `Hello,

Our compliance team answered your question "{{subject}}". Read the answer in the portal:
{{inquiryUrl}}

OMTI Customer Portal`,
	html: `<p>Hello,</p>
<p>Our compliance team answered your question "{{subject}}". <a href="{{inquiryUrl}}">Read the answer in the portal</a>.</p>`,
});
