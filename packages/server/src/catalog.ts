import { ActivityLogService, activityLogMigrations } from "@portal/activity-log";
import { CommunicationsService, communicationsMigrations } from "@portal/communications";
import { ComplianceService, complianceMigrations } from "@portal/compliance";
import { GatewayService } from "@portal/gateway";
import { IdentityService, identityMigrations } from "@portal/identity";
import type { Migration } from "@portal/platform";
import { ProfileService, profileMigrations } from "@portal/profile";
import { SharingService, sharingMigrations } from "@portal/sharing";
import type { ServiceSchema } from "moleculer";

/** Every service this image can run, by the name `SERVICES` uses. Add a service here, once. */
export const serviceCatalog: Record<string, ServiceSchema> = {
	gateway: GatewayService as unknown as ServiceSchema,
	identity: IdentityService,
	communications: CommunicationsService,
	profile: ProfileService,
	sharing: SharingService,
	compliance: ComplianceService,
	"activity-log": ActivityLogService,
};

/** Each service's schema and migrations, for `npm run migrate` (a Kubernetes Job in production). */
export const migrationCatalog: { schema: string; migrations: readonly Migration[] }[] = [
	{ schema: "identity", migrations: identityMigrations },
	{ schema: "communications", migrations: communicationsMigrations },
	{ schema: "profile", migrations: profileMigrations },
	{ schema: "sharing", migrations: sharingMigrations },
	{ schema: "compliance", migrations: complianceMigrations },
	{ schema: "activity_log", migrations: activityLogMigrations },
];
