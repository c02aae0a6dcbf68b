export { migrations as sharingMigrations } from "../migrations";
export { decide } from "./check";
export { default as SharingService } from "./sharing.service";
