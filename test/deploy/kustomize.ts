import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/**
 * A small `kustomize build` for the subset deploy/k8s uses, so manifests are checked without
 * kubectl: `resources` (files and directories), `patches` (strategic merge by `path`),
 * `labels` (metadata only), `namespace` and `images`. Anything else in a kustomization is refused
 * rather than silently ignored.
 */
export type Manifest = {
	apiVersion: string;
	kind: string;
	metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;

type Json = Record<string, unknown>;

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "patches", "labels", "namespace", "images"]);

/** Lists whose items are merged by a key, as the Kubernetes strategic merge patch does for these fields. */
const MERGE_KEYS: Record<string, string> = {
	containers: "name",
	initContainers: "name",
	env: "name",
	ports: "containerPort",
	volumes: "name",
	volumeMounts: "mountPath",
};

export function readManifests(file: string): Manifest[] {
	return parseAllDocuments(readFileSync(file, "utf8"))
		.map((doc) => doc.toJS() as Manifest | null)
		.filter((doc): doc is Manifest => doc !== null);
}

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

function mergeList(key: string, base: unknown[], patch: unknown[]): unknown[] {
	const mergeKey = MERGE_KEYS[key];
	if (!mergeKey || !base.every(isObject) || !patch.every(isObject)) return structuredClone(patch);
	const merged = base.map((item) => structuredClone(item));
	for (const item of patch) {
		const index = merged.findIndex((existing) => existing[mergeKey] === item[mergeKey]);
		if (index === -1) merged.push(structuredClone(item));
		else merged[index] = strategicMerge(merged[index] as Json, item);
	}
	return merged;
}

export function strategicMerge(base: Json, patch: Json): Json {
	const out: Json = structuredClone(base);
	for (const [key, value] of Object.entries(patch)) {
		const current = out[key];
		if (value === null) delete out[key];
		else if (isObject(current) && isObject(value)) out[key] = strategicMerge(current, value);
		else if (Array.isArray(current) && Array.isArray(value)) out[key] = mergeList(key, current, value);
		else out[key] = structuredClone(value);
	}
	return out;
}

function podSpecs(manifest: Manifest): Json[] {
	const spec = manifest.spec as Json | undefined;
	const template = spec?.template as Json | undefined;
	return isObject(template?.spec) ? [template.spec] : [];
}

export function build(dir: string): Manifest[] {
	const kustomization = readManifests(join(dir, "kustomization.yaml"))[0] as unknown as Json;
	const unknown = Object.keys(kustomization).filter((key) => !SUPPORTED.has(key));
	if (unknown.length > 0) throw new Error(`${dir}/kustomization.yaml uses fields this renderer does not support: ${unknown.join(", ")}`);

	let manifests: Manifest[] = [];
	for (const resource of (kustomization.resources as string[] | undefined) ?? []) {
		const path = join(dir, resource);
		manifests.push(...(statSync(path).isDirectory() ? build(path) : readManifests(path)));
	}

	for (const { path } of (kustomization.patches as { path: string }[] | undefined) ?? []) {
		for (const patch of readManifests(join(dir, path))) {
			const index = manifests.findIndex(
				(m) => m.apiVersion === patch.apiVersion && m.kind === patch.kind && m.metadata.name === patch.metadata.name,
			);
			if (index === -1) throw new Error(`${dir}/${path}: no ${patch.kind} ${patch.metadata.name} to patch`);
			manifests[index] = strategicMerge(manifests[index] as Json, patch as Json) as Manifest;
		}
	}

	for (const { pairs } of (kustomization.labels as { pairs: Record<string, string> }[] | undefined) ?? []) {
		manifests = manifests.map((m) => ({ ...m, metadata: { ...m.metadata, labels: { ...m.metadata.labels, ...pairs } } }));
	}

	const namespace = kustomization.namespace as string | undefined;
	if (namespace) manifests = manifests.map((m) => ({ ...m, metadata: { ...m.metadata, namespace } }));

	for (const image of (kustomization.images as { name: string; newName?: string; newTag?: string }[] | undefined) ?? []) {
		for (const spec of manifests.flatMap(podSpecs)) {
			for (const container of [...((spec.containers as Json[]) ?? []), ...((spec.initContainers as Json[]) ?? [])]) {
				const [name, tag] = String(container.image).split(":");
				if (name !== image.name) continue;
				const newTag = image.newTag ?? tag;
				container.image = `${image.newName ?? name}${newTag ? `:${newTag}` : ""}`;
			}
		}
	}
	return manifests;
}
