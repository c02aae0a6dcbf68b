/** sharing's public routes (API.md). Keys are moleculer-web aliases relative to the group's path. */
export const sharingRoutes: Record<string, string> = {};
