import { defineConfig } from "vite";

/**
 * Plain Vite with Preact's automatic JSX runtime (no plugin needed). The output is static files
 * the gateway serves under a strict CSP: no inline scripts or styles, so the module-preload
 * polyfill (an inline helper in some setups) is off.
 */
export default defineConfig({
	oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
	build: {
		outDir: "dist",
		emptyOutDir: true,
		modulePreload: { polyfill: false },
		assetsInlineLimit: 0,
		sourcemap: true,
		target: "es2022",
	},
	server: { proxy: { "/api": "http://127.0.0.1:3000", "/l": "http://127.0.0.1:3000" } },
});
