export const communicationsRoutes = {};

/** Only in embedded mode with captured mail (API.md: 404 in production). */
export const devRoutes = {
	"GET /dev/mailbox": "communications.devMailbox",
};
