/** profile's public routes (API.md). Keys are moleculer-web aliases relative to the group's path. */
export const profileRoutes: Record<string, string> = {};
