/** activity-log's public routes (API.md). Keys are moleculer-web aliases relative to the group's path. */
export const activityRoutes: Record<string, string> = {};

/** Routes outside /api/v1 (e.g. the mail link redirect `GET /l/:code`), relative to `/`. */
export const activityRootRoutes: Record<string, string> = {};
