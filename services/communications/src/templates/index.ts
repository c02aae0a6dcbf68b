import { activationResend } from "./activation-resend";
import { emailChange } from "./email-change";
import { marketingOffer } from "./marketing-offer";
import { passwordChanged } from "./password-changed";
import { passwordReset } from "./password-reset";
import { policyNotice } from "./policy-notice";
import { privacyInquiryAnswered } from "./privacy-inquiry-answered";
import { privacyInquiryReceived } from "./privacy-inquiry-received";
import { privacyRequestCompleted } from "./privacy-request-completed";
import { privacyRequestExtended } from "./privacy-request-extended";
import { privacyRequestReceived } from "./privacy-request-received";
import { productAdded } from "./product-added";
import { securityAlert } from "./security-alert";
import type { Template } from "./template";
import { welcome } from "./welcome";

export type { RenderedMail, Template } from "./template";

/** Every mail the portal sends, by name. One file per template beside this one. */
export const templates: ReadonlyMap<string, Template> = new Map(
	[
		welcome,
		emailChange,
		productAdded,
		activationResend,
		passwordChanged,
		passwordReset,
		securityAlert,
		marketingOffer,
		policyNotice,
		privacyRequestReceived,
		privacyRequestExtended,
		privacyRequestCompleted,
		privacyInquiryReceived,
		privacyInquiryAnswered,
	].map((t) => [t.name, t]),
);
