/** communications' public routes (API.md). Keys are moleculer-web aliases relative to the group's path. */
export const communicationsRoutes: Record<string, string> = {};

/** Only in embedded mode with captured mail (API.md: 404 in production). */
export const devRoutes: Record<string, string> = {
	"GET /dev/mailbox": "communications.devMailbox",
};
