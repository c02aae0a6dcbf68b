export * from "./actor";
export * from "./channels";
export * from "./personal-data";
export * from "./purchase";
