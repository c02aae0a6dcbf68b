/** compliance's public routes (API.md). Keys are moleculer-web aliases relative to the group's path. */
export const complianceRoutes: Record<string, string> = {};
