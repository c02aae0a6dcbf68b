import { defineTemplate } from "./template";

/**
 * R18/R20: a campaign's offer to the holders of a product. Marketing: sent only with consent, from the
 * marketing sender, with the one-click unsubscribe headers and this visible link.
 */
export const marketingOffer = defineTemplate({
	name: "marketing-offer",
	kind: "marketing",
	subject: "{{subject}}",
	text: `Hello {{name}},

{{message}}

Details: {{offerUrl}}

You receive this because you use {{productName}}. Unsubscribe from OMTI offers with one click:
{{unsubscribeUrl}}

OMTI`,
	html: `<p>Hello {{name}},</p>
<p>{{message}}</p>
<p><a href="{{offerUrl}}">See the offer</a></p>
<hr>
<p>You receive this because you use {{productName}}. <a href="{{unsubscribeUrl}}">Unsubscribe from OMTI offers</a> with one click.</p>`,
	translations: {
		de: {
			subject: "{{subject}}",
			text: `Guten Tag {{name}},

{{message}}

Details: {{offerUrl}}

Sie erhalten diese Nachricht, weil Sie {{productName}} nutzen. Mit einem Klick von OMTI-Angeboten abmelden:
{{unsubscribeUrl}}

OMTI`,
			html: `<p>Guten Tag {{name}},</p>
<p>{{message}}</p>
<p><a href="{{offerUrl}}">Zum Angebot</a></p>
<hr>
<p>Sie erhalten diese Nachricht, weil Sie {{productName}} nutzen. <a href="{{unsubscribeUrl}}">Von OMTI-Angeboten abmelden</a> (ein Klick).</p>`,
		},
	},
});
