// Validates Kubernetes objects (a JSON array on stdin) with kubernetes-models, which is ESM-only and
// so runs here rather than inside Jest's CommonJS sandbox. Prints a JSON array of problems.
const MODELS = {
	"apps/v1/Deployment": ["kubernetes-models/apps/v1", "Deployment"],
	"autoscaling/v2/HorizontalPodAutoscaler": ["kubernetes-models/autoscaling/v2", "HorizontalPodAutoscaler"],
	"policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1", "PodDisruptionBudget"],
	"batch/v1/Job": ["kubernetes-models/batch/v1", "Job"],
	"v1/Service": ["kubernetes-models/v1", "Service"],
	"v1/ConfigMap": ["kubernetes-models/v1", "ConfigMap"],
	"v1/Secret": ["kubernetes-models/v1", "Secret"],
	"v1/ServiceAccount": ["kubernetes-models/v1", "ServiceAccount"],
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const problems = [];
for (const manifest of JSON.parse(input)) {
	const name = `${manifest.kind}/${manifest.metadata?.name}`;
	const model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
	if (!model) {
		problems.push(`${name}: no schema for ${manifest.apiVersion} ${manifest.kind}`);
		continue;
	}
	const Model = (await import(model[0]))[model[1]];
	try {
		new Model(manifest).validate();
	} catch (err) {
		problems.push(`${name}: ${err.message}`);
	}
}
process.stdout.write(JSON.stringify(problems));
