import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { loadConfig } from "@portal/platform";
import { serviceCatalog } from "@portal/server";
import { brokerOptions } from "../../moleculer.config";
import { build, type Manifest } from "./kustomize";

/**
 * R30: every service runs as its own Deployment of one image, scaled on its own. The manifests are
 * rendered the way `kustomize build` does and every object is validated against the Kubernetes
 * schemas (kubernetes-models), then checked for what operating the portal needs.
 */
const ROOT = resolve(__dirname, "../..");
const SERVICES = ["gateway", "identity", "profile", "sharing", "activity-log", "communications", "compliance"];
const OVERLAYS = ["dev", "prod"];

/** Problems kubernetes-models finds in these objects (in a child process: the package is ESM-only). */
function schemaProblems(manifests: Manifest[]): string[] {
	const output = execFileSync(process.execPath, [join(__dirname, "validate.mjs")], {
		input: JSON.stringify(manifests),
		encoding: "utf8",
		env: { ...process.env, NODE_OPTIONS: "" },
	});
	return JSON.parse(output) as string[];
}

type Container = {
	name: string;
	image: string;
	command?: string[];
	env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
	envFrom?: { configMapRef?: { name: string } }[];
	ports?: { name: string; containerPort: number }[];
	readinessProbe?: { httpGet?: { path: string; port: string | number } };
	livenessProbe?: { httpGet?: { path: string; port: string | number } };
	lifecycle?: { preStop?: { sleep?: { seconds: number } } };
	resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
};
type PodSpec = { containers: Container[]; terminationGracePeriodSeconds?: number; topologySpreadConstraints?: unknown[] };
const podSpec = (m: Manifest) => (m.spec as { template: { spec: PodSpec; metadata: { labels: Record<string, string> } } }).template;

function find(manifests: Manifest[], kind: string, name: string): Manifest {
	const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
	if (!found) throw new Error(`${kind} ${name} is missing`);
	return found;
}

/** A compiled entry point's path, from where tsc writes packages/server (its tsconfig.build.json). */
function builtEntry(file: string): string {
	const server = join(ROOT, "packages/server");
	const tsconfig = JSON.parse(readFileSync(join(server, "tsconfig.build.json"), "utf8"));
	const { outDir, rootDir } = tsconfig.compilerOptions as { outDir: string; rootDir: string };
	const source = relative(resolve(server, rootDir), join(server, "src", file));
	return relative(ROOT, join(server, outDir, source.replace(/\.ts$/, ".js")));
}

function summary(overlay: string, manifests: Manifest[]): string {
	const lines = [`kustomize build deploy/k8s/overlays/${overlay}: ${manifests.length} objects, all valid`];
	for (const m of manifests) {
		let detail = "";
		if (m.kind === "Deployment") {
			const c = podSpec(m).spec.containers[0] as Container;
			const services = c.env?.find((e) => e.name === "SERVICES")?.value;
			detail = `SERVICES=${services} image=${c.image} cpu=${c.resources?.requests?.cpu} mem=${c.resources?.requests?.memory}/${c.resources?.limits?.memory} grace=${podSpec(m).spec.terminationGracePeriodSeconds}s`;
		} else if (m.kind === "HorizontalPodAutoscaler") {
			const s = m.spec as { minReplicas: number; maxReplicas: number };
			detail = `replicas ${s.minReplicas}..${s.maxReplicas} on cpu 70%`;
		} else if (m.kind === "PodDisruptionBudget") {
			detail = `maxUnavailable ${(m.spec as { maxUnavailable: number }).maxUnavailable}`;
		} else if (m.kind === "Job") {
			detail = (podSpec(m).spec.containers[0] as Container).command?.join(" ") ?? "";
		}
		lines.push(`  ${`${m.kind}/${m.metadata.name}`.padEnd(40)} ns=${m.metadata.namespace ?? "-"} ${detail}`.trimEnd());
	}
	return lines.join("\n");
}

describe.each(OVERLAYS)("Kubernetes manifests, overlay %s", (overlay) => {
	const manifests = build(join(ROOT, "deploy/k8s/overlays", overlay));

	afterAll(() => {
		process.stdout.write(`\n${summary(overlay, manifests)}\n`);
	});

	it("R30: every rendered object is valid against the Kubernetes schemas", () => {
		expect(manifests.length).toBeGreaterThan(SERVICES.length * 3);
		expect(schemaProblems(manifests)).toEqual([]);
		// The validator does find problems: a string where an integer belongs is refused.
		const broken = structuredClone(find(manifests, "Deployment", "gateway"));
		(podSpec(broken).spec.containers[0] as Container).ports = [{ name: "http", containerPort: "http" as unknown as number }];
		expect(schemaProblems([broken])).toEqual([expect.stringMatching(/containerPort must be integer/)]);
		const names = manifests.map((m) => `${m.kind}/${m.metadata.name}`);
		expect(new Set(names).size).toBe(names.length);
		expect(manifests.every((m) => m.metadata.namespace === (overlay === "prod" ? "portal" : "portal-dev"))).toBe(true);
	});

	it("R30: every service has its Deployment, autoscaler, disruption budget, probes on the health port and resources", () => {
		const config = find(manifests, "ConfigMap", "portal-config") as Manifest & { data: Record<string, string> };
		const healthPort = Number(config.data.HEALTH_PORT);
		for (const service of SERVICES) {
			const deployment = find(manifests, "Deployment", service);
			const template = podSpec(deployment);
			const selector = (deployment.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
			expect(template.metadata.labels).toMatchObject(selector);
			const [container] = template.spec.containers as [Container];
			expect(container.env?.find((e) => e.name === "SERVICES")?.value).toBe(service);
			expect(container.envFrom?.[0]?.configMapRef?.name).toBe("portal-config");
			expect(container.ports?.find((p) => p.name === "health")?.containerPort).toBe(healthPort);
			expect(container.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "health" });
			expect(container.livenessProbe?.httpGet).toEqual({ path: "/livez", port: "health" });
			expect(container.resources?.requests?.cpu).toBeDefined();
			expect(container.resources?.requests?.memory).toBeDefined();
			expect(container.resources?.limits?.memory).toBeDefined();
			expect(template.spec.topologySpreadConstraints?.length).toBeGreaterThan(0);

			const hpa = find(manifests, "HorizontalPodAutoscaler", service).spec as {
				scaleTargetRef: { kind: string; name: string };
				minReplicas: number;
				maxReplicas: number;
			};
			expect(hpa.scaleTargetRef).toMatchObject({ kind: "Deployment", name: service });
			expect(hpa.minReplicas).toBeGreaterThanOrEqual(1);
			expect(hpa.maxReplicas).toBeGreaterThan(hpa.minReplicas);
			if (overlay === "prod") expect(hpa.minReplicas).toBeGreaterThanOrEqual(2);

			const pdb = find(manifests, "PodDisruptionBudget", service).spec as { selector: { matchLabels: Record<string, string> } };
			expect(template.metadata.labels).toMatchObject(pdb.selector.matchLabels);
		}
		const gateway = find(manifests, "Service", "gateway").spec as { selector: Record<string, string>; ports: { targetPort: string }[] };
		expect(gateway.selector).toEqual({ "app.kubernetes.io/name": "gateway" });
		expect(gateway.ports[0]?.targetPort).toBe("http");
		expect((podSpec(find(manifests, "Deployment", "gateway")).spec.containers[0] as Container).ports).toContainEqual({
			name: "http",
			containerPort: Number(config.data.PORT),
		});
	});

	it("R30: the grace period covers the preStop pause and the broker's graceful stop", () => {
		const options = brokerOptions(loadConfig({}));
		const drainSeconds = ((options.tracking?.shutdownTimeout ?? 5_000) + (options.registry?.stopDelay ?? 100)) / 1000;
		for (const service of SERVICES) {
			const spec = podSpec(find(manifests, "Deployment", service)).spec;
			const preStop = (spec.containers[0] as Container).lifecycle?.preStop?.sleep?.seconds ?? 0;
			// Channels and transporter close after the drain: at least 5 s of margin, at most a minute of waiting.
			expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + drainSeconds + 5);
			expect(spec.terminationGracePeriodSeconds).toBeLessThanOrEqual(60);
		}
	});

	it("R30: the settings are a valid production config and every secret comes from a Secret", () => {
		const config = find(manifests, "ConfigMap", "portal-config") as Manifest & { data: Record<string, string> };
		const fromSecrets = new Map<string, string>();
		for (const m of manifests.filter((m) => m.kind === "Deployment" || m.kind === "Job")) {
			for (const container of podSpec(m).spec.containers) {
				for (const env of container.env ?? []) {
					const ref = env.valueFrom?.secretKeyRef;
					if (ref) fromSecrets.set(env.name, `${ref.name}/${ref.key}`);
				}
			}
		}
		expect([...fromSecrets.keys()].sort()).toEqual(["DATABASE_URL", "PURCHASE_WEBHOOK_SECRET", "SESSION_SECRET", "SMTP_URL"]);
		// The secrets' shapes, as the vault and CloudNativePG provide them.
		const stand = {
			DATABASE_URL: "postgresql://app:pw@portal-db-rw:5432/app",
			SESSION_SECRET: "s".repeat(48),
			PURCHASE_WEBHOOK_SECRET: "p".repeat(48),
			SMTP_URL: "smtp://mail.omti.example:587",
		};
		for (const service of SERVICES) expect(() => loadConfig({ ...config.data, ...stand, SERVICES: service })).not.toThrow();
		// Passwords never sit in the ConfigMap.
		expect(Object.keys(config.data).filter((key) => /SECRET|PASSWORD|DATABASE_URL|SMTP_URL/.test(key))).toEqual([]);
		const secret = manifests.find((m) => m.kind === "Secret" && m.metadata.name === "portal-secrets") as
			| (Manifest & { stringData: Record<string, string> })
			| undefined;
		if (overlay === "dev") {
			const needed = [...fromSecrets.values()].filter((ref) => ref.startsWith("portal-secrets/")).map((ref) => ref.split("/")[1]);
			expect(Object.keys(secret?.stringData ?? {}).sort()).toEqual([...new Set(needed)].sort());
		} else {
			// Production secrets come from the vault (External Secrets), never from the repository.
			expect(secret).toBeUndefined();
		}
	});

	it("R30: each Deployment runs a service the image has, the image the bundled start, and the migration Job the built migrate entry", () => {
		for (const service of SERVICES) {
			expect({ service, inCatalog: service in serviceCatalog }).toEqual({ service, inCatalog: true });
		}
		const job = (podSpec(find(manifests, "Job", "portal-migrate")).spec.containers[0] as Container).command;
		expect(job).toEqual(["node", builtEntry("migrate.ts")]);
		const dockerfile = readFileSync(join(ROOT, "deploy/Dockerfile"), "utf8");
		// bundle.spec.ts builds and runs this entry.
		expect(dockerfile).toContain(`CMD ["node", "packages/server/dist/bundle/start.js"]`);
	});

	const kubectl = (() => {
		try {
			execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
			return true;
		} catch {
			return false;
		}
	})();
	(kubectl ? it : it.skip)("renders exactly what `kubectl kustomize` renders (when kubectl is installed)", () => {
		const { parseAllDocuments } = require("yaml") as typeof import("yaml");
		const output = execFileSync("kubectl", ["kustomize", join(ROOT, "deploy/k8s/overlays", overlay)], { encoding: "utf8" });
		const theirs = parseAllDocuments(output).map((d) => d.toJS() as Manifest);
		const key = (m: Manifest) => `${m.kind}/${m.metadata.name}`;
		const sort = (list: Manifest[]) => [...list].sort((a, b) => key(a).localeCompare(key(b)));
		expect(sort(manifests)).toEqual(sort(theirs));
	});
});
