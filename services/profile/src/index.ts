export { migrations as profileMigrations } from "../migrations";
export { default as ProfileService } from "./profile.service";
