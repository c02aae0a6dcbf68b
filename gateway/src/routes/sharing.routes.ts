/** sharing's public routes (API.md). Keys are moleculer-web aliases relative to the group's path. */
export const sharingRoutes: Record<string, string> = {
	"GET /shares": "sharing.list",
	"POST /shares": "sharing.grant",
	"GET /shares/received": "sharing.listReceived",
	"DELETE /shares/:id": "sharing.revoke",
	"POST /teams": "sharing.createTeam",
	"GET /teams": "sharing.listTeams",
	"POST /teams/:id/members": "sharing.addMember",
	"DELETE /teams/:id/members/:accountId": "sharing.removeMember",
};
