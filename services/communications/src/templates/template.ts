import Handlebars from "handlebars";

/**
 * A mail template: a subject, a text part and an HTML part, in English, optionally translated. The
 * HTML part escapes every value (Handlebars' `{{ }}`); subject and text are plain text and are not
 * escaped. `strict` makes a missing value an error instead of an empty gap in a customer's mail.
 */
export interface TemplateParts {
	subject: string;
	text: string;
	html: string;
}

export interface TemplateSource extends TemplateParts {
	name: string;
	/** Service mail always goes out (R19); marketing mail obeys preferences and has unsubscribe (R20). */
	kind: "service" | "marketing";
	/** Variants by locale (`de`, `fr-CA`, …); English (the parts above) is the default. */
	translations?: Readonly<Record<string, TemplateParts>>;
}

export interface RenderedMail {
	kind: "service" | "marketing";
	subject: string;
	text: string;
	html: string;
	/** The locale actually used (the requested one, its language, or `en`). */
	locale: string;
}

export interface Template {
	name: string;
	kind: "service" | "marketing";
	locales: readonly string[];
	render(data: Record<string, string>, locale?: string | null): RenderedMail;
}

/** Every marketing mail must show its unsubscribe link in both parts (R20); the service fills the value. */
export const UNSUBSCRIBE_FIELD = "unsubscribeUrl";

type Compiled = { subject: Handlebars.TemplateDelegate; text: Handlebars.TemplateDelegate; html: Handlebars.TemplateDelegate };

function compile(name: string, kind: TemplateSource["kind"], parts: TemplateParts): Compiled {
	if (kind === "marketing" && !(parts.text.includes(`{{${UNSUBSCRIBE_FIELD}}}`) && parts.html.includes(`{{${UNSUBSCRIBE_FIELD}}}`))) {
		throw new Error(`marketing template '${name}' must show {{${UNSUBSCRIBE_FIELD}}} in its text and HTML parts`);
	}
	return {
		subject: Handlebars.compile(parts.subject, { noEscape: true, strict: true }),
		text: Handlebars.compile(parts.text, { noEscape: true, strict: true }),
		html: Handlebars.compile(parts.html, { strict: true }),
	};
}

/** `de-CH` → `de-CH`, else `de`, else English. */
function pick(variants: ReadonlyMap<string, Compiled>, locale: string | null | undefined): string {
	if (!locale) return "en";
	const exact = locale.toLowerCase();
	if (variants.has(exact)) return exact;
	const language = exact.split("-")[0] ?? "en";
	return variants.has(language) ? language : "en";
}

export function defineTemplate(source: TemplateSource): Template {
	const variants = new Map<string, Compiled>([["en", compile(source.name, source.kind, source)]]);
	for (const [locale, parts] of Object.entries(source.translations ?? {})) {
		variants.set(locale.toLowerCase(), compile(`${source.name}/${locale}`, source.kind, parts));
	}
	return {
		name: source.name,
		kind: source.kind,
		locales: [...variants.keys()],
		render(data, locale) {
			const used = pick(variants, locale);
			const t = variants.get(used) as Compiled;
			return { kind: source.kind, subject: t.subject(data), text: t.text(data), html: t.html(data), locale: used };
		},
	};
}
