export * from "./gpu-models.js";
export * from "./countries.js";
export * from "./money.js";
export * from "./clock.js";
export * from "./types.js";
export * from "./errors.js";
export * from "./images.js";
