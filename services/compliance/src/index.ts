export { migrations as complianceMigrations } from "../migrations";
export type { Clock } from "./clock";
export { default as ComplianceService } from "./compliance.service";
