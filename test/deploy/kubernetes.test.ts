/**
 * deploy/kubernetes/: every manifest validates against the Kubernetes API schemas (the
 * OpenAPI schemas `kubernetes-models` compiles with ajv; the ServiceMonitor against the
 * prometheus-operator CRD as `@kubernetes-models/prometheus-operator` compiles it). Both let
 * unknown fields through, as the API server prunes them; the pod spec is also checked
 * strictly against the PodSpec KServe's CRD embeds, when the KServe CRDs are available
 * (./kserve-crds.ts). And the
 * pieces fit together: probes on the v2 health paths, a grace period that covers the drain,
 * selectors that match, the queue-depth metric the HPA scales on is one modelhost exports,
 * and `modelhost serve` accepts the Deployment's arguments and answers the probes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ModelHost } from '../../src/index.js';
import { collectMetrics } from '../../src/metrics/prometheus.js';
import { onnxAffine } from '../fixtures/onnx-models.js';
import { FAKE_SOURCE, fakeRuntime } from '../helpers/fake-runtime.js';
import { writeVersion } from '../helpers/repository.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { crdPropertyValidator } from './crd-schema.js';
import { findKserveCrds, needsKserveCrds } from './kserve-crds.js';

const dir = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const tempDir = useTempDirs('all');

/** The model class (its schema) for each apiVersion and kind used in deploy/kubernetes. */
const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim,
  'v1 ConfigMap': ConfigMap,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'monitoring.coreos.com/v1 ServiceMonitor': ServiceMonitor,
};

interface Manifest {
  readonly file: string;
  readonly object: { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: unknown };
}

const manifests: Manifest[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((file) =>
    parseAllDocuments(readFileSync(path.join(dir, file), 'utf8')).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      return { file, object: doc.toJS() as Manifest['object'] };
    }),
  );

function validationErrors(object: Manifest['object']): string {
  const Model = MODELS[`${object.apiVersion} ${object.kind}`];
  if (Model === undefined) return `no schema for ${object.apiVersion} ${object.kind}`;
  try {
    new Model(object as never).validate();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

const one = <T>(kind: string, name?: string) => {
  const found = manifests.filter((m) => m.object.kind === kind && (name === undefined || m.object.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]!.object as unknown as T;
};

// Manifests are plain JSON read from YAML: `any` lets each test walk the fields it checks.
const deployment = () => one<any>('Deployment');
const container = () => deployment().spec.template.spec.containers[0];
const argValue = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('deploy/kubernetes manifests', () => {
  it('holds the objects the deployment guide names', () => {
    expect(manifests.map((m) => `${m.object.kind}/${m.object.metadata.name}`).sort()).toEqual([
      'ConfigMap/prometheus-adapter-modelhost',
      'Deployment/modelhost',
      'HorizontalPodAutoscaler/modelhost-cpu',
      'HorizontalPodAutoscaler/modelhost-queue-depth',
      'PersistentVolumeClaim/modelhost-models',
      'PodDisruptionBudget/modelhost',
      'Service/modelhost',
      'ServiceMonitor/modelhost',
    ]);
  });

  it.each(manifests.map((m) => [`${m.file}: ${m.object.kind}/${m.object.metadata.name}`, m] as const))('%s validates against its schema', (_, m) => {
    expect(validationErrors(m.object)).toBe('');
  });

  // The Kubernetes OpenAPI schemas (hence kubernetes-models' PodSpec, checked above for the
  // Deployment) let unknown fields through, as the API server prunes them; a misspelt
  // `readinesProbe` would pass. KServe's InferenceService CRD embeds the core PodSpec
  // (controller-gen copies k8s.io/api's into spec.predictor, beside KServe's own fields),
  // which closes every object it declares: with the KServe CRDs at hand, the pod spec is
  // checked strictly against it too.
  const kserveCrds = findKserveCrds();
  const podSpecFields = kserveCrds && crdPropertyValidator(kserveCrds.inferenceServices, 'v1beta1', ['spec', 'predictor']);

  it.skipIf(!kserveCrds)(needsKserveCrds(kserveCrds, 'the Deployment’s pod spec has no field the core PodSpec lacks (strict, like kubectl --validate=strict, against the PodSpec in KServe’s CRD)'), () => {
    expect(podSpecFields!(deployment().spec.template.spec)).toEqual([]);
    const misspelt = structuredClone(deployment().spec.template.spec);
    misspelt.containers[0].readinesProbe = misspelt.containers[0].readinessProbe;
    misspelt.containers[0].lifecycle.preStop.exec.comand = ['sleep', '5'];
    expect(podSpecFields!(misspelt)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/containers\/0 must NOT have additional properties: readinesProbe$/),
        expect.stringMatching(/^\/containers\/0\/lifecycle\/preStop\/exec must NOT have additional properties: comand$/),
      ]),
    );
  });

  it('the ServiceMonitor is checked against prometheus-operator’s schema (types, patterns, enums, required fields; unknown fields pass)', () => {
    const monitor = one<any>('ServiceMonitor');
    expect(validationErrors(monitor)).toBe('');
    const wrongType = structuredClone(monitor);
    wrongType.spec.endpoints[0].port = 8080;
    expect(validationErrors(wrongType)).toMatch(/\/spec\/endpoints\/0\/port must be string/);
    const badEnum = structuredClone(monitor);
    badEnum.spec.endpoints[0].scheme = 'ftp';
    expect(validationErrors(badEnum)).toMatch(/\/spec\/endpoints\/0\/scheme must be equal to one of the allowed values/);
    const noSelector = structuredClone(monitor);
    delete noSelector.spec.selector;
    expect(validationErrors(noSelector)).toMatch(/\/spec must have required property selector/);
    // The package's schemas are not closed (no additionalProperties: false), like the API
    // server, which prunes unknown fields of a structural CRD: a misspelt field passes, as
    // docs/deployment.md says. Should the package turn strict, this fails and the doc changes.
    const misspelt = structuredClone(monitor);
    misspelt.spec.endpoints[0].scrapeInterval = '15s';
    expect(validationErrors(misspelt)).toBe('');
  });

  it('the schemas do refuse a wrong manifest (so the checks above can fail)', () => {
    const broken = structuredClone(deployment());
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(validationErrors(broken)).toMatch(/containerPort must be integer/);
    const hpa = structuredClone(one<any>('HorizontalPodAutoscaler', 'modelhost-cpu'));
    delete hpa.spec.maxReplicas;
    expect(validationErrors(hpa)).toMatch(/maxReplicas/);
    const monitor = structuredClone(one<any>('ServiceMonitor'));
    monitor.spec.endpoints[0].interval = 'often';
    expect(validationErrors(monitor)).toMatch(/interval/);
  });

  it('probes the v2 health paths on the declared port, and the grace period covers preStop and the drain', () => {
    const c = container();
    const port = c.ports.find((p: any) => p.name === 'http');
    expect(port.containerPort).toBe(Number(argValue(c.args, '--port')));
    expect(argValue(c.args, '--host')).toBe('0.0.0.0');
    expect(c.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: 'http' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/v2/health/live', port: 'http' });
    expect(c.resources.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
    expect(c.resources.limits).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
    // preStop sleep + every request's deadline + serve's 10 s for the last responses ≤ grace
    const preStopSeconds = Number(c.lifecycle.preStop.exec.command[1]);
    const timeoutSeconds = Number(argValue(c.args, '--timeout')) / 1000;
    expect(preStopSeconds).toBeGreaterThan(0);
    expect(preStopSeconds + timeoutSeconds + 10).toBeLessThanOrEqual(deployment().spec.template.spec.terminationGracePeriodSeconds);
    // and the drain bound: past it serve refuses what is left and exits, before the SIGKILL
    const drainSeconds = Number(argValue(c.args, '--drain-timeout')) / 1000;
    expect(preStopSeconds + drainSeconds + 10).toBeLessThanOrEqual(deployment().spec.template.spec.terminationGracePeriodSeconds);
  });

  it('mounts the repository from the PVC where serve reads it, read-only, and runs as non-root', () => {
    const spec = deployment().spec.template.spec;
    const c = container();
    const mount = c.volumeMounts.find((m: any) => m.mountPath === c.args[1]);
    expect(c.args[0]).toBe('serve');
    expect(mount.readOnly).toBe(true);
    const volume = spec.volumes.find((v: any) => v.name === mount.name);
    expect(volume.persistentVolumeClaim.claimName).toBe(one<any>('PersistentVolumeClaim').metadata.name);
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
  });

  it('selects the Deployment’s pods from the Service, PDB and ServiceMonitor, and scales the Deployment', () => {
    const labels = deployment().spec.template.metadata.labels;
    for (const selector of [one<any>('Service').spec.selector, one<any>('PodDisruptionBudget').spec.selector.matchLabels]) expect(labels).toMatchObject(selector);
    const service = one<any>('Service');
    const monitor = one<any>('ServiceMonitor');
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(service.spec.ports.map((p: any) => p.name)).toContain(monitor.spec.endpoints[0].port);
    expect(monitor.spec.endpoints[0].path).toBe('/metrics');
    expect(service.spec.ports[0].targetPort).toBe('http');
    for (const name of ['modelhost-cpu', 'modelhost-queue-depth']) {
      expect(one<any>('HorizontalPodAutoscaler', name).spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment().metadata.name });
    }
    expect(one<any>('HorizontalPodAutoscaler', 'modelhost-cpu').spec.metrics[0].resource.name).toBe('cpu');
  });

  it('scales on a queue-depth metric that modelhost exports and the Prometheus adapter rule serves', async () => {
    const metric = one<any>('HorizontalPodAutoscaler', 'modelhost-queue-depth').spec.metrics[0].pods.metric.name as string;
    const rules = (parse(one<any>('ConfigMap').data['config.yaml']) as { rules: { seriesQuery: string; name: { as: string } }[] }).rules;
    expect(rules.map((r) => r.name.as)).toContain(metric);
    const rule = rules.find((r) => r.name.as === metric)!;
    const series = /^(\w+)\{/.exec(rule.seriesQuery)![1];

    const registry = new Registry();
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    try {
      collectMetrics(host, { registry });
      await host.load('m', { source: FAKE_SOURCE, version: 1 });
      const exported = await registry.getMetricsAsJSON();
      expect(exported.find((m) => m.name === series)).toMatchObject({ type: 'gauge' });
    } finally {
      await host.close();
    }
  });
});

describe('modelhost serve with the Deployment’s arguments', () => {
  let server: ServeProcess | undefined;
  afterAll(() => server?.kill());

  it('listens on every interface at the declared port and answers the probes', async () => {
    const repository = await tempDir();
    await writeVersion(repository, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    const args = [...(container().args as string[])];
    args[1] = repository;
    args[args.indexOf('--port') + 1] = '0'; // a free port: the declared one may be taken here
    server = await startServe(args);
    expect(server.listening).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});
