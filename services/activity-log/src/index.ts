export { migrations as activityLogMigrations } from "../migrations";
export { type ActivityLogSettings, default as ActivityLogService } from "./activity-log.service";
export { type BrokenLink, canonicalJson, entryHash, type VerifyReport, verifyAuditChains } from "./audit";
