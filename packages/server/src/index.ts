export { migrationCatalog, serviceCatalog } from "./catalog";
export { publishPurchase, purchaseEvent } from "./purchase";
export { startPortal } from "./start";
