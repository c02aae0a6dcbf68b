/** Identity's public routes (API.md: Authentication and accounts). */
export const identityRoutes = {
	"POST /auth/activate": "identity.activate",
	"POST /auth/sign-in": "identity.signIn",
	"POST /auth/sign-out": "identity.signOut",
	"GET /me": "identity.me",
};

/** Routes for other OMTI systems, signed with PURCHASE_WEBHOOK_SECRET. */
export const hookRoutes = {
	"POST /purchases": "identity.receivePurchase",
};
