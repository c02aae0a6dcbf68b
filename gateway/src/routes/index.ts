import { communicationsRoutes, devRoutes } from "./communications.routes";
import { hookRoutes, identityRoutes } from "./identity.routes";

/**
 * Every public route under /api/v1, one file per owning service. Only these are reachable: there is
 * no catch-all mapping, and actions without `access` refuse the gateway anyway.
 */
export const apiRoutes: Record<string, string> = { ...identityRoutes, ...communicationsRoutes };
export { devRoutes, hookRoutes };
