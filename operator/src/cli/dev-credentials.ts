// For `cai dev`: the example ships a plain Secret (as users have it today). Seal it exactly as a user
// would — with the operator's published certificate and the function behind `cai seal` — and return the
// SealedCredentials to apply.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { SEALING_CERT_CONFIGMAP } from '../release/sealing/store.ts';
import type { CliIO } from './command.ts';
import { sealCredentials } from './commands/seal.ts';

export const EXAMPLE_SECRET = 'openclaw-config.secret.yaml';

export async function prepareExampleCredentials(dir: string, kc: KubeConfig, operatorNamespace: string, io: CliIO): Promise<KubernetesObject[]> {
  const secretFile = join(dir, EXAMPLE_SECRET);
  if (!existsSync(secretFile)) return [];
  const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: SEALING_CERT_CONFIGMAP, namespace: operatorNamespace });
  const cert = cm.data?.['cert.pem'];
  if (!cert) throw new Error(`ConfigMap ${operatorNamespace}/${SEALING_CERT_CONFIGMAP} has no cert.pem`);
  const sealed = sealCredentials(cert, {
    secretManifest: readFileSync(secretFile, 'utf8'),
    resourcePath: 'default/local-resources',
    scope: 'Strict',
    agents: ['demo-agent'],
  });
  io.stdout(`sealed ${EXAMPLE_SECRET} with the operator's certificate (cai seal)\n`);
  return sealed;
}
