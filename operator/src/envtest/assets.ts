// Where the control-plane binaries come from, with controller-runtime envtest's conventions:
// TEST_ASSET_KUBE_APISERVER / TEST_ASSET_ETCD / TEST_ASSET_KUBECTL name single binaries, otherwise
// KUBEBUILDER_ASSETS names a directory holding all three. Our own default is the cache folder that
// `make envtest` (hack/envtest/build.sh) fills.
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ControlPlaneError } from './process.ts';

export interface ControlPlaneAssets {
  kubeApiServer: string;
  etcd: string;
  /** kubectl is optional for the control plane itself; undefined when absent. */
  kubectl: string | undefined;
}

export const DEFAULT_ASSETS_DIR = join(homedir(), '.cache', 'cai-operator', 'envtest');

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export function resolveAssets(assetsDir?: string, env: NodeJS.ProcessEnv = process.env): ControlPlaneAssets {
  const dir = assetsDir ?? (env['KUBEBUILDER_ASSETS'] || DEFAULT_ASSETS_DIR);
  const pick = (override: string | undefined, name: string) => (assetsDir === undefined && override ? override : join(dir, name));
  const kubeApiServer = pick(env['TEST_ASSET_KUBE_APISERVER'], 'kube-apiserver');
  const etcd = pick(env['TEST_ASSET_ETCD'], 'etcd');
  const kubectl = pick(env['TEST_ASSET_KUBECTL'], 'kubectl');
  const missing = [kubeApiServer, etcd].filter((p) => !executable(p));
  if (missing.length > 0) {
    throw new ControlPlaneError(
      'AssetsMissing',
      `control-plane binaries not found or not executable: ${missing.join(', ')}. ` +
        `Run \`make envtest\` (builds them into ${DEFAULT_ASSETS_DIR}) or point KUBEBUILDER_ASSETS at a directory with kube-apiserver, etcd and kubectl.`,
    );
  }
  return { kubeApiServer, etcd, kubectl: executable(kubectl) ? kubectl : undefined };
}
