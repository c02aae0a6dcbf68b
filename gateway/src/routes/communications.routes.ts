/** communications' public routes (API.md). Keys are moleculer-web aliases relative to the group's path. */
export const communicationsRoutes: Record<string, string> = {
	"GET /preferences/communications": "communications.getPreferences",
	"PUT /preferences/communications": "communications.updatePreferences",
	"GET /unsubscribe": "communications.unsubscribePage",
	"POST /unsubscribe": "communications.unsubscribe",
	"POST /admin/campaigns": "communications.createCampaign",
	"GET /admin/campaigns": "communications.listCampaigns",
	"GET /admin/campaigns/:id": "communications.getCampaign",
};

/** Only in embedded mode with captured mail (API.md: 404 in production). */
export const devRoutes: Record<string, string> = {
	"GET /dev/mailbox": "communications.devMailbox",
};
