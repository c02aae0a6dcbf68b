#!/usr/bin/env node
// `npm run test:infra`: the same suites as `npm test`, on the machine's Postgres, Redis and NATS.
// Each test file creates and drops its own database, namespace, streams and key prefix.
import { spawnSync } from "node:child_process";

const env = {
	...process.env,
	TEST_INFRA: "1",
	TEST_POSTGRES_URL: process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
	TEST_REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
	TEST_NATS_URL: process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222",
	NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --experimental-vm-modules`.trim(),
};
const result = spawnSync("npx", ["jest", ...process.argv.slice(2)], { stdio: "inherit", env });
process.exit(result.status ?? 1);
