import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import type { Knex } from "knex";

/**
 * An in-memory PGlite normally runs initdb (about 4 s of CPU) each time it starts. Every fresh cluster
 * is the same, so the first start saves a snapshot of one on disk and later starts load it (about 1 s).
 * Each database is still its own: the snapshot is of the empty cluster, taken before any migration.
 */

const DIGEST_BYTES = 32;

/** The snapshot of the installed PGlite's empty cluster, kept with the project's other caches. */
export function defaultSnapshotFile(): string {
	const packageDir = join(dirname(require.resolve("@electric-sql/pglite")), "..");
	const { version } = require(join(packageDir, "package.json")) as { version: string };
	return join(packageDir, "..", "..", ".cache", "portal", `pglite-${version}-empty.tar`);
}

/** Starts an empty in-memory PGlite: from the snapshot when it is sound, else by initdb (saving a new snapshot). */
export async function startMemoryPglite(snapshotFile = defaultSnapshotFile()): Promise<PGlite> {
	const { PGlite } = require("@electric-sql/pglite") as typeof import("@electric-sql/pglite");
	const snapshot = await readSnapshot(snapshotFile);
	if (snapshot) {
		const db = new PGlite({ loadDataDir: new Blob([snapshot]) });
		try {
			await db.waitReady;
			return db;
		} catch {
			// A sound file of a cluster PGlite cannot load (a build changed without a version bump): start over.
			await db.close().catch(() => undefined);
		}
	}
	const db = new PGlite();
	await db.waitReady;
	await saveSnapshot(db, snapshotFile);
	return db;
}

/**
 * The tar, or null when the file is missing or damaged. PGlite must never see a damaged tar: it takes
 * one it cannot untar for gzip and its decompressor then fails outside any promise we can catch.
 */
async function readSnapshot(file: string): Promise<Buffer | null> {
	const content = await readFile(file).catch(() => null);
	if (!content || content.length <= DIGEST_BYTES) return null;
	const tar = content.subarray(0, -DIGEST_BYTES);
	return createHash("sha256").update(tar).digest().equals(content.subarray(-DIGEST_BYTES)) ? tar : null;
}

/**
 * Written beside the target and renamed over it, so that parallel test workers and processes only
 * ever read a whole snapshot. A cache that cannot be written (read-only disk) only costs speed.
 */
async function saveSnapshot(db: PGlite, file: string): Promise<void> {
	const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
	try {
		// Uncompressed: loading it costs less CPU than gunzipping (40 MB on disk rather than 5 MB).
		const tar = Buffer.from(await (await db.dumpDataDir("none")).arrayBuffer());
		await mkdir(dirname(file), { recursive: true });
		await writeFile(temporary, Buffer.concat([tar, createHash("sha256").update(tar).digest()]));
		await rename(temporary, file);
	} catch {
		await rm(temporary, { force: true });
	}
}

/**
 * knex-pglite's client, on a PGlite started by startMemoryPglite. Its own would create the PGlite in the
 * (synchronous) constructor; here the start is asynchronous and knex's first connection waits for it.
 */
export function memoryPgliteClient(): typeof Knex.Client {
	const ClientPgLite = require("knex-pglite") as typeof import("knex-pglite");
	return class MemoryPgLiteClient extends ClientPgLite {
		// Set by _driver(), which knex calls from the constructor: a field initialiser would run after it.
		declare started: Promise<PGlite>;

		_driver(): void {
			this.started = startMemoryPglite();
			// Until the first query awaits it, a failed start must not end the process as an unhandled rejection.
			this.started.catch(() => undefined);
		}

		async _acquireOnlyConnection(): Promise<PGlite> {
			return this.started;
		}
	};
}
