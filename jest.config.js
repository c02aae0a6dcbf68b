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
	// Each test file's modules live in their own VM context, which Node frees late (nodejs/node#33439): a
	// worker's heap grows ~60 MB a file, to ~1 GB by the end. Ending, a worker unmaps its heap page by
	// page, and on a slow VM that passed Jest's 500 ms grace ("failed to exit gracefully", 520–900 ms
	// measured). A worker past this size after a file is replaced; its last exit took 80–175 ms.
	workerIdleMemoryLimit: "300MB",
	reporters: ["default", "<rootDir>/test/support/summary-reporter.js"],
};
