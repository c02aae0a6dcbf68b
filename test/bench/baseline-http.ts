import { createServer } from "node:http";

/** The raw baseline: a bare node:http server answering a fixed JSON body, nothing else. */
const body = process.env.BASELINE_BODY ?? "{}";
const port = Number(process.env.PORT ?? 0);
createServer((_req, res) => {
	res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
	res.end(body);
}).listen(port, "127.0.0.1", () => process.stdout.write("ready\n"));
