import { defineTemplate } from "./template";

/** R2: a second purchase adds the product to the existing account and tells the owner. */
export const productAdded = defineTemplate({
	name: "product-added",
	kind: "service",
	subject: "{{productName}} was added to your OMTI Customer Portal account",
	text: `Hello {{username}},

{{productName}} is now part of your OMTI Customer Portal account. Sign in to see it:
{{portalUrl}}

OMTI Customer Portal`,
	html: `<p>Hello {{username}},</p>
<p>{{productName}} is now part of your OMTI Customer Portal account. <a href="{{portalUrl}}">Sign in</a> to see it.</p>`,
});
