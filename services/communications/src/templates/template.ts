import Handlebars from "handlebars";

/**
 * A mail template: a subject, a text part and an HTML part. The HTML part escapes every value
 * (Handlebars' `{{ }}`); subject and text are plain text and are not escaped. `strict` makes a
 * missing value an error instead of an empty gap in a customer's mail.
 */
export interface TemplateSource {
	name: string;
	/** Service mail always goes out (R19); marketing mail obeys preferences and has unsubscribe (R20). */
	kind: "service" | "marketing";
	subject: string;
	text: string;
	html: string;
}

export interface RenderedMail {
	kind: "service" | "marketing";
	subject: string;
	text: string;
	html: string;
}

export interface Template {
	name: string;
	kind: "service" | "marketing";
	render(data: Record<string, string>): RenderedMail;
}

export function defineTemplate(source: TemplateSource): Template {
	const subject = Handlebars.compile(source.subject, { noEscape: true, strict: true });
	const text = Handlebars.compile(source.text, { noEscape: true, strict: true });
	const html = Handlebars.compile(source.html, { strict: true });
	return {
		name: source.name,
		kind: source.kind,
		render: (data) => ({ kind: source.kind, subject: subject(data), text: text(data), html: html(data) }),
	};
}
