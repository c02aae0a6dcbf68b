export { migrations as communicationsMigrations } from "../migrations";
export { default as CommunicationsService } from "./communications.service";
