// For `cai dev`: the example ships a plain Secret (as users have it today). Seal it exactly as a user
// would — the operator's published certificate + `cai seal` — and return the SealedCredentials to apply.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { SEALING_CERT_CONFIGMAP } from '../release/sealing/store.ts';
import type { CliIO } from './command.ts';
import { runCli } from './main.ts';

export const EXAMPLE_SECRET = 'openclaw-config.secret.yaml';

export async function prepareExampleCredentials(dir: string, kc: KubeConfig, operatorNamespace: string, io: CliIO): Promise<KubernetesObject[]> {
  const secretFile = join(dir, EXAMPLE_SECRET);
  if (!existsSync(secretFile)) return [];
  const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: SEALING_CERT_CONFIGMAP, namespace: operatorNamespace });
  const cert = cm.data?.['cert.pem'];
  if (!cert) throw new Error(`ConfigMap ${operatorNamespace}/${SEALING_CERT_CONFIGMAP} has no cert.pem`);
  const tmp = mkdtempSync(join(tmpdir(), 'cai-dev-'));
  try {
    writeFileSync(join(tmp, 'cert.pem'), cert);
    let out = '';
    let err = '';
    const code = await runCli(['seal', '--cert', join(tmp, 'cert.pem'), '--secret-manifest', secretFile, '--resource-path', 'default/local-resources', '--agent', 'demo-agent'], {
      ...io,
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
    });
    if (code !== 0) throw new Error(`cai seal failed: ${err.trim()}`);
    io.stdout(`sealed ${EXAMPLE_SECRET} with the operator's certificate (cai seal)\n`);
    return parseAllDocuments(out).map((d) => d.toJSON() as KubernetesObject);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
