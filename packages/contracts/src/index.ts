export * from "./actor";
export * from "./channels";
export * from "./personal-data";
export * from "./profile";
export * from "./purchase";
export * from "./sharing";
