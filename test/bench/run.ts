import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { figures } from "./figures";

/**
 * `npm run bench`: every figure is a ratio against a raw baseline measured in the same run on the same
 * cores (system on core 0, load generator on core 1). Prints a table, writes bench-results.json.
 * Bounded: each load runs a fixed number of seconds, everything stops by itself. Loopback only.
 */
export interface Figure {
	name: string;
	measured: string;
	baseline: string;
	ratio: number | null;
	target: string;
	pass: boolean;
	detail?: Record<string, unknown>;
}

async function main(): Promise<void> {
	const only = process.argv.slice(2);
	// Every figure runs the portal as the image does (harness.ts PORTAL_ENTRY): build what changed.
	execFileSync("npx", ["turbo", "run", "build", "--output-logs=errors-only"], { stdio: "inherit" });
	const results: Figure[] = [];
	for (const figure of figures) {
		if (only.length > 0 && !only.some((o) => figure.id.includes(o))) continue;
		process.stdout.write(`… ${figure.id}\n`);
		try {
			results.push(...(await figure.run()));
		} catch (err) {
			results.push({ name: figure.id, measured: `failed: ${(err as Error).message}`, baseline: "", ratio: null, target: "", pass: false });
		}
	}
	const rows = results.map((r) => [
		r.name,
		r.measured,
		r.baseline,
		r.ratio === null ? "" : r.ratio.toFixed(2),
		r.target,
		r.pass ? "yes" : "NO",
	]);
	const header = ["figure", "measured", "baseline (same run)", "ratio", "target", "met"];
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
	const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
	process.stdout.write(`\n${line(header)}\n${line(widths.map((w) => "-".repeat(w)))}\n${rows.map(line).join("\n")}\n`);
	const machine = { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, date: new Date().toISOString() };
	writeFileSync("bench-results.json", `${JSON.stringify({ machine, results }, null, 2)}\n`);
	process.stdout.write(`\nwritten bench-results.json (${machine.cores} cores, Node ${machine.node})\n`);
}

void main().then(() => process.exit(0));
