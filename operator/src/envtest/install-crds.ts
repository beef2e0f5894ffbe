// Installs every CustomResourceDefinition found in a directory's *.yaml files (create, or replace when
// it already exists) and waits until each is Established and its resource is actually served, like
// controller-runtime envtest's CRDInstallOptions + WaitForCRDs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, CustomObjectsApi, loadAllYaml, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { ControlPlaneError } from './process.ts';

export function readCrdFiles(dir: string): V1CustomResourceDefinition[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  } catch (err) {
    throw new ControlPlaneError('CrdDirUnreadable', `cannot read CRD directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const crds: V1CustomResourceDefinition[] = [];
  for (const file of files) {
    // loadAllYaml deserializes into client-node's typed models. That matters: the typed API client
    // serializes by model attribute (`_default`, `_enum`, `x_kubernetes_validations`), so a plain
    // parsed object would silently lose defaults, enums and CEL rules on the way to the API server.
    let docs: unknown[];
    try {
      docs = loadAllYaml(readFileSync(join(dir, file), 'utf8'));
    } catch (err) {
      throw new ControlPlaneError('CrdFileInvalid', `${join(dir, file)}: ${(err as Error).message}`, { cause: err });
    }
    for (const obj of docs as Array<V1CustomResourceDefinition | null>) {
      if (obj?.kind === 'CustomResourceDefinition') crds.push(obj);
    }
  }
  return crds;
}

const status = (err: unknown): number | undefined => (err as { code?: unknown }).code as number | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function apply(api: ApiextensionsV1Api, crd: V1CustomResourceDefinition): Promise<void> {
  const name = crd.metadata?.name ?? '';
  try {
    await api.createCustomResourceDefinition({ body: crd });
  } catch (err) {
    if (status(err) !== 409) throw explain(name, err);
    const existing = await api.readCustomResourceDefinition({ name });
    const body = { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata?.resourceVersion } };
    try {
      await api.replaceCustomResourceDefinition({ name, body });
    } catch (err2) {
      throw explain(name, err2);
    }
  }
}

function explain(name: string, err: unknown): ControlPlaneError {
  const body = (err as { body?: unknown }).body;
  const detail = typeof body === 'string' ? body : body ? JSON.stringify(body) : (err as Error).message;
  return new ControlPlaneError('CrdRejected', `API server rejected CRD ${name}: ${detail}`, { cause: err });
}

export async function installCrds(kc: KubeConfig, crds: V1CustomResourceDefinition[], timeoutMs = 30_000): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  for (const crd of crds) await apply(api, crd);
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    let why: string;
    for (;;) {
      const live = await api.readCustomResourceDefinition({ name });
      const cond = (type: string) => live.status?.conditions?.find((c) => c.type === type);
      if (cond('Established')?.status === 'True' && cond('NamesAccepted')?.status === 'True') {
        const version = crd.spec.versions.find((v) => v.served)?.name ?? crd.spec.versions[0]?.name ?? '';
        try {
          await objects.listClusterCustomObject({ group: crd.spec.group, version, plural: crd.spec.names.plural, limit: 1 });
          break;
        } catch (err) {
          why = `established but not served yet (${status(err) ?? (err as Error).message})`;
        }
      } else {
        why = `conditions: ${JSON.stringify(live.status?.conditions ?? [])}`;
      }
      if (Date.now() > deadline) throw new ControlPlaneError('CrdNotEstablished', `CRD ${name} not ready after ${timeoutMs} ms: ${why}`);
      await sleep(100);
    }
  }
}
