// The typed API clients the runtime and the reconcilers share, all built from one KubeConfig.

import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, EventsV1Api, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';

export interface KubeClients {
  kubeConfig: KubeConfig;
  customObjects: CustomObjectsApi;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  events: EventsV1Api;
  objects: KubernetesObjectApi;
  /** fieldManager sent with every write the runtime makes. */
  fieldManager: string;
}

export function makeClients(kubeConfig: KubeConfig, fieldManager = 'confidential-agent-operator'): KubeClients {
  return {
    kubeConfig,
    customObjects: kubeConfig.makeApiClient(CustomObjectsApi),
    core: kubeConfig.makeApiClient(CoreV1Api),
    coordination: kubeConfig.makeApiClient(CoordinationV1Api),
    events: kubeConfig.makeApiClient(EventsV1Api),
    objects: KubernetesObjectApi.makeApiClient(kubeConfig),
    fieldManager,
  };
}
