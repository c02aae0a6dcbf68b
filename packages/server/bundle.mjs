// The service process's entry as one file: `dist/bundle/start.js`, what the image runs.
//
// Loaded from node_modules, a process resolves and reads ~1 300 modules before its broker exists,
// a third of its cold start (issue 10; BENCHMARKS.md). Bundled, it reads one file. Each service's
// code and libraries stay lazy inside the bundle: a process loads only the services it runs.
import { build } from "esbuild";

await build({
	entryPoints: { start: "src/start.ts" },
	outdir: "dist/bundle",
	bundle: true,
	platform: "node",
	target: "node20",
	format: "cjs",
	// Our workspaces from their TypeScript sources, as `npm start` and the tests run them.
	conditions: ["source"],
	// Without comments and whitespace the file is a third smaller, and no comment's "—" or "→" makes
	// V8 hold all of it as a two-byte string: ~50 ms less to read and compile at every start (issue 10).
	// Names are not mangled: stack traces keep them; `node --enable-source-maps` maps them to the sources.
	minifyWhitespace: true,
	minifySyntax: true,
	// esbuild renames a module's top-level name that another module uses too (Moleculer's
	// `ValidationError` becomes `ValidationError2`), and error names travel: the gateway and Moleculer's
	// error regenerator tell errors apart by them (test/deploy/bundle.spec.ts). Keeping names costs ~7 %
	// of an embedded read's CPU, spread over the `__name` calls it adds where functions are defined
	// (BENCHMARKS.md).
	keepNames: true,
	sourcemap: "linked",
	sourcesContent: false,
	external: [
		// Native binaries, WebAssembly and the built UI, found beside their own packages at run time.
		"@node-rs/argon2",
		"@electric-sql/pglite",
		"knex-pglite",
		"@portal/portal-ui",
		// Drivers that knex and pg load only when configured for them; none is installed.
		"pg-native",
		"better-sqlite3",
		"sqlite3",
		"mysql",
		"mysql2",
		"mariadb",
		"oracledb",
		"tedious",
	],
	logLevel: "warning",
});
