import { GroupCommit } from "@portal/platform";

/** A gate the test opens: a commit that waits on it stays in flight. */
function gate() {
	let open: () => void = () => undefined;
	const opened = new Promise<void>((resolve) => {
		open = resolve;
	});
	return { opened, open };
}

/** R3 rests on this for grouped purchases: one item that cannot commit never stops the others, and a passing failure is tried again. */
describe("GroupCommit", () => {
	it("R3: items submitted while a commit runs are committed together by the next one, each answered in order", async () => {
		const first = gate();
		const groups: number[][] = [];
		const committer = new GroupCommit<number, string>(async (items) => {
			groups.push(items);
			if (groups.length === 1) await first.opened;
			return items.map((n) => `done ${n}`);
		});
		const answers = [committer.submit(1), committer.submit(2), committer.submit(3), committer.submit(4)];
		first.open();
		expect(await Promise.all(answers)).toEqual(["done 1", "done 2", "done 3", "done 4"]);
		expect(groups).toEqual([[1], [2, 3, 4]]);
	});

	it("R3: a group takes at most maxGroup items, and at most `concurrency` groups commit at once", async () => {
		const held = gate();
		const groups: number[][] = [];
		let running = 0;
		let mostRunning = 0;
		const committer = new GroupCommit<number, number>(
			async (items) => {
				groups.push(items);
				mostRunning = Math.max(mostRunning, ++running);
				await held.opened;
				running -= 1;
				return items;
			},
			2,
			2,
		);
		const answers = [1, 2, 3, 4, 5, 6, 7].map((n) => committer.submit(n));
		await new Promise((resolve) => setImmediate(resolve));
		expect(groups).toEqual([[1], [2]]);
		held.open();
		expect(await Promise.all(answers)).toEqual([1, 2, 3, 4, 5, 6, 7]);
		expect(groups.every((g) => g.length <= 2)).toBe(true);
		expect(groups.flat().sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
		expect(mostRunning).toBe(2);
	});

	it("R3: when a group fails, each item is committed alone: only the one that cannot commit fails", async () => {
		const first = gate();
		const committed: number[] = [];
		const committer = new GroupCommit<number, number>(async (items) => {
			if (items.includes(0)) await first.opened;
			if (items.includes(13)) throw new Error("13 cannot commit");
			committed.push(...items);
			return items;
		});
		const blocker = committer.submit(0);
		const answers = [12, 13, 14].map((n) => committer.submit(n).then(String, (err: Error) => err.message));
		first.open();
		await blocker;
		expect(await Promise.all(answers)).toEqual(["12", "13 cannot commit", "14"]);
		expect(committed).toEqual([0, 12, 14]);
	});
});
