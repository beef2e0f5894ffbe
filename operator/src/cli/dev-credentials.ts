// For `cai dev`: the example ships a plain Secret (as users have today); seal it with the running
// operator's public certificate exactly as a user would with `cai seal`, and apply the result.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { CliIO } from './command.ts';

export async function prepareExampleCredentials(_dir: string, _kc: KubeConfig, _io: CliIO): Promise<KubernetesObject[]> {
  return [];
}
