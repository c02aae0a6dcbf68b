import { createReadStream, existsSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, extname, join, resolve, sep } from "node:path";

/** Where `npm run build -w @portal/portal-ui` writes the UI, found through the package wherever this code runs from (sources, dist, the bundle). */
export const UI_DIST = join(dirname(require.resolve("@portal/portal-ui/package.json")), "dist");

const TYPES: Record<string, string> = {
	".html": "text/html; charset=utf-8",
	".js": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
	".ico": "image/x-icon",
	".json": "application/json; charset=utf-8",
	".map": "application/json; charset=utf-8",
	".woff2": "font/woff2",
	".txt": "text/plain; charset=utf-8",
};

/** Said at `/` when the UI has not been built: a developer's hint, not a failure. */
const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OMTI Customer Portal: UI not built</title></head>
<body><main><h1>The portal UI has not been built</h1>
<p>The API is running (see <a href="/api/docs">/api/docs</a>). To get the pages, build the UI and reload:</p>
<pre><code>npm run build -w @portal/portal-ui</code></pre></main></body></html>
`;

type Next = (err?: unknown) => void;

/**
 * Serves the built single-page UI for GET/HEAD outside the reserved prefixes. A file that exists is
 * sent; a path without a file extension is a client route (`/activate`, `/profile`, …) and gets
 * index.html; anything else falls through to the route's aliases and, failing those, to a 404 problem.
 */
export function serveUi(reservedSegments: ReadonlySet<string>, dist = UI_DIST) {
	return (req: IncomingMessage, res: ServerResponse, next: Next) => {
		if (req.method !== "GET" && req.method !== "HEAD") return next();
		let pathname: string;
		try {
			pathname = decodeURIComponent(new URL(req.url ?? "/", "http://portal.invalid").pathname);
		} catch {
			return next();
		}
		const first = pathname.split("/")[1] ?? "";
		if (reservedSegments.has(first)) return next();

		const index = join(dist, "index.html");
		if (!existsSync(index)) {
			if (extname(pathname)) return next();
			return send(res, req, 503, TYPES[".html"] as string, NOT_BUILT, "no-store");
		}
		const file = resolve(dist, `.${pathname}`);
		const inside = file === dist || file.startsWith(dist + sep);
		if (inside && pathname !== "/" && isFile(file)) {
			// Vite names built assets by content hash, so they never change under the same name.
			const cache = pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache";
			return stream(res, req, file, cache);
		}
		if (extname(pathname)) return next();
		return stream(res, req, index, "no-cache");
	};
}

function isFile(path: string): boolean {
	try {
		return statSync(path).isFile();
	} catch {
		return false;
	}
}

function send(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string, cache: string) {
	res.statusCode = status;
	res.setHeader("Content-Type", type);
	res.setHeader("Cache-Control", cache);
	res.end(req.method === "HEAD" ? undefined : body);
}

function stream(res: ServerResponse, req: IncomingMessage, file: string, cache: string) {
	res.statusCode = 200;
	res.setHeader("Content-Type", TYPES[extname(file)] ?? "application/octet-stream");
	res.setHeader("Content-Length", statSync(file).size);
	res.setHeader("Cache-Control", cache);
	if (req.method === "HEAD") {
		res.end();
		return;
	}
	createReadStream(file)
		.on("error", () => res.destroy())
		.pipe(res);
}
