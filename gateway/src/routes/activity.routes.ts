/** activity-log's public routes (API.md). Keys are moleculer-web aliases relative to the group's path. */
export const activityRoutes: Record<string, string> = {
	"POST /activity/clicks": "activityLog.click",
	"GET /activity/me": "activityLog.summary",
	"GET /activity/me/audit": "activityLog.auditTrail",
	"GET /admin/legal-holds": "activityLog.listHolds",
	"POST /admin/legal-holds": "activityLog.placeHold",
	"DELETE /admin/legal-holds/:accountId": "activityLog.liftHold",
};

/** Routes outside /api/v1 (e.g. the mail link redirect `GET /l/:code`), relative to `/`. */
export const activityRootRoutes: Record<string, string> = {
	"GET l/:code": "activityLog.follow",
};
