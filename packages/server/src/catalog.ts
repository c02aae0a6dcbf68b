import type { Migration } from "@portal/platform";
import type { ServiceSchema } from "moleculer";

/**
 * Every service this image can run, by the name `SERVICES` uses. Add a service here, once.
 * Each entry loads its package only when asked, so a process that runs one service does not pay
 * for loading the others (password dictionaries, template engines, phone metadata…) at start.
 */
export const serviceCatalog: Record<string, () => ServiceSchema> = {
	gateway: () => (require("@portal/gateway") as typeof import("@portal/gateway")).GatewayService as unknown as ServiceSchema,
	identity: () => (require("@portal/identity") as typeof import("@portal/identity")).IdentityService,
	communications: () => (require("@portal/communications") as typeof import("@portal/communications")).CommunicationsService,
	profile: () => (require("@portal/profile") as typeof import("@portal/profile")).ProfileService,
	sharing: () => (require("@portal/sharing") as typeof import("@portal/sharing")).SharingService,
	compliance: () => (require("@portal/compliance") as typeof import("@portal/compliance")).ComplianceService,
	"activity-log": () => (require("@portal/activity-log") as typeof import("@portal/activity-log")).ActivityLogService,
};

/** Each service's schema and migrations, for `npm run migrate` (a Kubernetes Job in production). */
export const migrationCatalog: { schema: string; migrations: () => readonly Migration[] }[] = [
	{ schema: "identity", migrations: () => (require("@portal/identity") as typeof import("@portal/identity")).identityMigrations },
	{
		schema: "communications",
		migrations: () => (require("@portal/communications") as typeof import("@portal/communications")).communicationsMigrations,
	},
	{ schema: "profile", migrations: () => (require("@portal/profile") as typeof import("@portal/profile")).profileMigrations },
	{ schema: "sharing", migrations: () => (require("@portal/sharing") as typeof import("@portal/sharing")).sharingMigrations },
	{ schema: "compliance", migrations: () => (require("@portal/compliance") as typeof import("@portal/compliance")).complianceMigrations },
	{
		schema: "activity_log",
		migrations: () => (require("@portal/activity-log") as typeof import("@portal/activity-log")).activityLogMigrations,
	},
];
