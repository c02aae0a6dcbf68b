import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { databaseStarted, openDatabase } from "../src/database";
import { startMemoryPglite } from "../src/memory-database";

/** A usable, empty cluster: no table of ours yet, and one can be created, filled and read. */
async function expectWorkingEmptyCluster(db: PGlite): Promise<void> {
	const tables = await db.query("select tablename from pg_tables where schemaname not in ('pg_catalog', 'information_schema')");
	expect(tables.rows).toEqual([]);
	await db.query("create table notes (id int primary key, body text)");
	await db.query("insert into notes values ($1, $2)", [1, "hello"]);
	expect((await db.query("select body from notes")).rows).toEqual([{ body: "hello" }]);
}

describe("in-memory database (DATA_DIR=memory://)", () => {
	let dir: string;
	let snapshot: string;

	beforeEach(async () => {
		dir = await mkdtemp(join(tmpdir(), "portal-snapshot-"));
		snapshot = join(dir, "empty.tar");
	});
	afterEach(() => rm(dir, { recursive: true, force: true }));

	it("each memory database is its own, and starts empty", async () => {
		const [a, b] = [openDatabase({ dataDir: "memory://", databaseUrl: null }), openDatabase({ dataDir: "memory://", databaseUrl: null })];
		try {
			// In a fresh checkout there is no snapshot yet: both run initdb, which on a busy machine outlasts
			// the acquire timeout (as services wait before their first query).
			await Promise.all([databaseStarted(a), databaseStarted(b)]);
			await a.raw("create table only_in_a (id int)");
			await a("only_in_a").insert({ id: 1 });
			expect(await a("only_in_a").select("id")).toEqual([{ id: 1 }]);
			await expect(b.raw("select * from only_in_a")).rejects.toThrow(/does not exist/);
		} finally {
			await Promise.all([a.destroy(), b.destroy()]);
		}
	});

	it("the first start saves a snapshot of the empty cluster; later starts load it into a working empty cluster", async () => {
		const first = await startMemoryPglite(snapshot);
		await expectWorkingEmptyCluster(first);
		await first.close();
		const saved = await stat(snapshot);

		const second = await startMemoryPglite(snapshot);
		await expectWorkingEmptyCluster(second); // empty again: the first one's table is not in the snapshot
		await second.close();
		expect((await stat(snapshot)).mtimeMs).toBe(saved.mtimeMs); // loaded, not rebuilt
	});

	it("a damaged snapshot falls back to a fresh cluster and is replaced by a sound one", async () => {
		await writeFile(snapshot, "not a tar at all, nor gzip");
		const db = await startMemoryPglite(snapshot);
		await expectWorkingEmptyCluster(db);
		await db.close();
		const replaced = await readFile(snapshot);
		expect(replaced.length).toBeGreaterThan(1_000_000);

		// A truncated copy is damaged too.
		await writeFile(snapshot, replaced.subarray(0, replaced.length / 2));
		const again = await startMemoryPglite(snapshot);
		await expectWorkingEmptyCluster(again);
		await again.close();
		expect((await readFile(snapshot)).length).toBe(replaced.length);
	});
});
