export { migrations as identityMigrations } from "../migrations";
export { default as IdentityService } from "./identity.service";
