import { CommunicationsService, communicationsMigrations } from "@portal/communications";
import { ComplianceService, complianceMigrations } from "@portal/compliance";
import { GatewayService } from "@portal/gateway";
import { IdentityService, identityMigrations } from "@portal/identity";
import type { Migration } from "@portal/platform";
import type { ServiceSchema } from "moleculer";

/** Every service this image can run, by the name `SERVICES` uses. Add a service here, once. */
export const serviceCatalog: Record<string, ServiceSchema> = {
	gateway: GatewayService as unknown as ServiceSchema,
	identity: IdentityService,
	communications: CommunicationsService,
	compliance: ComplianceService,
};

/** Each service's schema and migrations, for `npm run migrate` (a Kubernetes Job in production). */
export const migrationCatalog: { schema: string; migrations: readonly Migration[] }[] = [
	{ schema: "identity", migrations: identityMigrations },
	{ schema: "communications", migrations: communicationsMigrations },
	{ schema: "compliance", migrations: complianceMigrations },
];
