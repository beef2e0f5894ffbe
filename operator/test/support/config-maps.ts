// An in-memory ConfigMap reader (the one call the sandbox-policy phase makes): a missing ConfigMap
// answers like the API server's client does (an error with code 404).
import type { ConfigMapReader } from '../../src/pep/agent-policy.ts';

export interface MemoryConfigMaps extends ConfigMapReader {
  set(namespace: string, name: string, data: Record<string, string>): void;
  delete(namespace: string, name: string): void;
  reads: number;
}

export function memoryConfigMaps(): MemoryConfigMaps {
  const store = new Map<string, Record<string, string>>();
  const self: MemoryConfigMaps = {
    reads: 0,
    set: (namespace, name, data) => void store.set(`${namespace}/${name}`, { ...data }),
    delete: (namespace, name) => void store.delete(`${namespace}/${name}`),
    readNamespacedConfigMap({ name, namespace }) {
      self.reads++;
      const data = store.get(`${namespace}/${name}`);
      if (!data) return Promise.reject(Object.assign(new Error(`configmaps "${name}" not found`), { code: 404 }));
      return Promise.resolve({ data: { ...data } });
    },
  };
  return self;
}
