import "./moleculer-augment";

export * from "./access.middleware";
export * from "./broker-config";
export * from "./cacher";
export * from "./config";
export * from "./crypto";
export * from "./database";
export * from "./database.mixin";
export * from "./errors";
export * from "./health";
export * from "./in-process-channels";
export * from "./logger";
export * from "./metrics";
export * from "./moleculer-augment";
export * from "./outbox.mixin";
export * from "./request-context.middleware";
export * from "./schema";
export * from "./validator";
