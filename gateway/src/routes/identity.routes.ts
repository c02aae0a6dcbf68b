/** Identity's public routes (API.md: Authentication and accounts). */
export const identityRoutes = {
	"POST /auth/activate": "identity.activate",
	"POST /auth/activate/resend": "identity.resendActivation",
	"POST /auth/sign-in": "identity.signIn",
	"POST /auth/sign-out": "identity.signOut",
	"POST /auth/reauthenticate": "identity.reauthenticate",
	"POST /auth/password": "identity.changePassword",
	"POST /auth/password-reset": "identity.requestPasswordReset",
	"POST /auth/password-reset/confirm": "identity.confirmPasswordReset",
	"GET /auth/sessions": "identity.listSessions",
	"DELETE /auth/sessions/:id": "identity.revokeSession",
	"DELETE /auth/sessions": "identity.revokeOtherSessions",
	"POST /auth/totp": "identity.startTotp",
	"POST /auth/totp/confirm": "identity.confirmTotp",
	"DELETE /auth/totp": "identity.disableTotp",
	"GET /me": "identity.me",
	"GET /admin/accounts": "identity.findAccount",
};

/** Routes for other OMTI systems, signed with PURCHASE_WEBHOOK_SECRET. */
export const hookRoutes = {
	"POST /purchases": "identity.receivePurchase",
};
