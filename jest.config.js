/**
 * One Jest run for every workspace. Sources are transformed by SWC and resolved through the
 * `source` export condition, so tests need no build. Type checking is its own task (`tsc`).
 */
/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: "node",
	testEnvironmentOptions: { customExportConditions: ["source", "node", "require", "default"] },
	roots: ["<rootDir>/packages", "<rootDir>/services", "<rootDir>/gateway", "<rootDir>/test"],
	testMatch: ["**/test/**/*.spec.ts"],
	testPathIgnorePatterns: ["/node_modules/", "/dist/", "/test/bench/"],
	transform: {
		"^.+\\.(t|j)s$": ["@swc/jest", { jsc: { target: "es2022", parser: { syntax: "typescript" } }, module: { type: "commonjs" } }],
	},
	// ESM-only dependencies are transformed too, so that require() works inside Jest's VM.
	transformIgnorePatterns: ["/node_modules/(?!(otplib|@otplib|@scure|@noble)/)"],
	testTimeout: 60_000,
	maxWorkers: 2,
	reporters: ["default", "<rootDir>/test/support/summary-reporter.js"],
};
