export { migrationCatalog, serviceCatalog } from "./catalog";
export { migrateAll } from "./migrate";
export { publishPurchase, purchaseEvent } from "./purchase";
export { startPortal } from "./start";
