import Handlebars from "handlebars";

/**
 * Every mail as a template with a text and an HTML part. The HTML part escapes every value
 * (Handlebars' `{{ }}`); the text part is plain text and needs no escaping.
 */
export type TemplateName = "welcome" | "product-added";

interface TemplateSource {
	kind: "service" | "marketing";
	subject: string;
	text: string;
	html: string;
}

const sources: Record<TemplateName, TemplateSource> = {
	welcome: {
		kind: "service",
		subject: "Your OMTI Customer Portal account",
		text: `Hello {{name}},

thank you for choosing {{productName}}. Your OMTI Customer Portal account is ready.

Your user name: {{username}}

Choose your password here (the link works once and until {{expiresAt}}):
{{activationUrl}}

We never send passwords by email.

OMTI Customer Portal`,
		html: `<p>Hello {{name}},</p>
<p>thank you for choosing {{productName}}. Your OMTI Customer Portal account is ready.</p>
<p>Your user name: <strong>{{username}}</strong></p>
<p><a href="{{activationUrl}}">Choose your password</a> (the link works once and until {{expiresAt}}).</p>
<p>We never send passwords by email.</p>`,
	},
	"product-added": {
		kind: "service",
		subject: "{{productName}} was added to your OMTI Customer Portal account",
		text: `Hello {{username}},

{{productName}} is now part of your OMTI Customer Portal account. Sign in to see it:
{{portalUrl}}

OMTI Customer Portal`,
		html: `<p>Hello {{username}},</p>
<p>{{productName}} is now part of your OMTI Customer Portal account. <a href="{{portalUrl}}">Sign in</a> to see it.</p>`,
	},
};

const compiled = Object.fromEntries(
	Object.entries(sources).map(([name, source]) => [
		name,
		{
			kind: source.kind,
			subject: Handlebars.compile(source.subject, { noEscape: true, strict: true }),
			text: Handlebars.compile(source.text, { noEscape: true, strict: true }),
			html: Handlebars.compile(source.html, { strict: true }),
		},
	]),
) as Record<
	TemplateName,
	{
		kind: "service" | "marketing";
		subject: Handlebars.TemplateDelegate;
		text: Handlebars.TemplateDelegate;
		html: Handlebars.TemplateDelegate;
	}
>;

export interface RenderedMail {
	kind: "service" | "marketing";
	subject: string;
	text: string;
	html: string;
}

export function render(name: TemplateName, data: Record<string, string>): RenderedMail {
	const template = compiled[name];
	return { kind: template.kind, subject: template.subject(data), text: template.text(data), html: template.html(data) };
}
