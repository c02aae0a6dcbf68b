import { activityRootRoutes, activityRoutes } from "./activity.routes";
import { communicationsRoutes, devRoutes } from "./communications.routes";
import { complianceRoutes } from "./compliance.routes";
import { hookRoutes, identityRoutes } from "./identity.routes";
import { profileRoutes } from "./profile.routes";
import { sharingRoutes } from "./sharing.routes";

/**
 * Every public route, one file per owning service. Only these are reachable: there is no
 * catch-all mapping, and actions without `access` refuse the gateway anyway.
 */
/** Under /api/v1, JSON bodies. */
export const apiRoutes: Record<string, string> = {
	...identityRoutes,
	...profileRoutes,
	...sharingRoutes,
	...activityRoutes,
	...communicationsRoutes,
	...complianceRoutes,
};

/** Under /, no body: links people follow from mails. */
export const rootRoutes: Record<string, string> = { ...activityRootRoutes };

export { devRoutes, hookRoutes };
