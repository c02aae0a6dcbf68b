import { hash, verify } from "@node-rs/argon2";
import { ARGON2_OPTIONS } from "../../services/identity/src/passwords";

/** Raw argon2id verifies per second with the portal's parameters, `CONCURRENCY` at a time. */
async function main(): Promise<void> {
	const seconds = Number(process.env.SECONDS ?? 8);
	const concurrency = Number(process.env.CONCURRENCY ?? 4);
	const encoded = await hash("bench stenographer ribbon 2026", ARGON2_OPTIONS);
	const deadline = Date.now() + seconds * 1000;
	let done = 0;
	const worker = async () => {
		while (Date.now() < deadline) {
			await verify(encoded, "bench stenographer ribbon 2026");
			done += 1;
		}
	};
	const started = Date.now();
	await Promise.all(Array.from({ length: concurrency }, worker));
	process.stdout.write(
		`${JSON.stringify({ perSecond: done / ((Date.now() - started) / 1000), msPerHash: (Date.now() - started) / done })}\n`,
	);
}

void main();
