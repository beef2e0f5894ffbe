// Persists the sealing keyring in a Kubernetes Secret in the operator namespace and publishes the active
// certificate in a ConfigMap anyone may read (`kubectl get cm confidential-agent-sealing-cert`). Creation
// races between replicas resolve through the API server (409 → re-read); rotation uses the Secret's
// resourceVersion for optimistic concurrency.
import type { CoreV1Api } from '@kubernetes/client-node';
import { createKeyring, parseKeyring, rotateKeyring, serializeKeyring, type SealingKeyring } from './keyring.ts';

export const SEALING_SECRET = 'confidential-agent-sealing-keys';
export const SEALING_CERT_CONFIGMAP = 'confidential-agent-sealing-cert';
export const KEYRING_KEY = 'keyring.json';
const LABELS = { 'app.kubernetes.io/managed-by': 'confidential-agent-operator', 'app.kubernetes.io/component': 'sealing' };

/** The storage the keyring lives in (a Secret in production). */
export interface KeyringStorage {
  read(): Promise<{ text: string; version: string } | undefined>;
  /** 'exists' when another writer created it first. */
  create(text: string): Promise<'created' | 'exists'>;
  /** 'conflict' when the stored version changed since `version` was read. */
  update(text: string, version: string): Promise<'updated' | 'conflict'>;
  publishCertificate(certificatePem: string, keyId: string): Promise<void>;
}

const statusOf = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

export class SecretKeyringStorage implements KeyringStorage {
  readonly #core: CoreV1Api;
  readonly #namespace: string;

  constructor(core: CoreV1Api, namespace: string) {
    this.#core = core;
    this.#namespace = namespace;
  }

  async read(): Promise<{ text: string; version: string } | undefined> {
    try {
      const s = await this.#core.readNamespacedSecret({ name: SEALING_SECRET, namespace: this.#namespace });
      const data = s.data?.[KEYRING_KEY];
      if (data === undefined) return { text: '', version: s.metadata?.resourceVersion ?? '' };
      return { text: Buffer.from(data, 'base64').toString('utf8'), version: s.metadata?.resourceVersion ?? '' };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async create(text: string): Promise<'created' | 'exists'> {
    try {
      await this.#core.createNamespacedSecret({
        namespace: this.#namespace,
        body: { metadata: { name: SEALING_SECRET, labels: LABELS }, type: 'Opaque', data: { [KEYRING_KEY]: Buffer.from(text).toString('base64') } },
      });
      return 'created';
    } catch (err) {
      if (statusOf(err) === 409) return 'exists';
      throw err;
    }
  }

  async update(text: string, version: string): Promise<'updated' | 'conflict'> {
    try {
      await this.#core.replaceNamespacedSecret({
        name: SEALING_SECRET,
        namespace: this.#namespace,
        body: {
          metadata: { name: SEALING_SECRET, labels: LABELS, resourceVersion: version },
          type: 'Opaque',
          data: { [KEYRING_KEY]: Buffer.from(text).toString('base64') },
        },
      });
      return 'updated';
    } catch (err) {
      if (statusOf(err) === 409) return 'conflict';
      throw err;
    }
  }

  async publishCertificate(certificatePem: string, keyId: string): Promise<void> {
    const body = {
      metadata: { name: SEALING_CERT_CONFIGMAP, labels: LABELS, annotations: { 'confidential-agent.io/sealing-key-id': keyId } },
      data: { 'cert.pem': certificatePem },
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const current = await this.#core.readNamespacedConfigMap({ name: SEALING_CERT_CONFIGMAP, namespace: this.#namespace });
        if (current.data?.['cert.pem'] === certificatePem) return;
        const rv = current.metadata?.resourceVersion;
        await this.#core.replaceNamespacedConfigMap({ name: SEALING_CERT_CONFIGMAP, namespace: this.#namespace, body: { ...body, metadata: { ...body.metadata, ...(rv ? { resourceVersion: rv } : {}) } } });
        return;
      } catch (err) {
        if (statusOf(err) === 409) continue; // another replica wrote it meanwhile: re-read
        if (statusOf(err) !== 404) throw err;
      }
      try {
        await this.#core.createNamespacedConfigMap({ namespace: this.#namespace, body });
        return;
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
      }
    }
    throw new Error('sealing certificate ConfigMap kept conflicting with another writer');
  }
}

export class SealingKeyStore {
  readonly #now: () => Date;

  constructor(opts: { now?: () => Date } = {}) {
    this.#now = opts.now ?? (() => new Date());
  }

  /** Loads the keyring from the operator namespace, creating it (and the certificate ConfigMap) on first start. */
  loadOrCreate(core: CoreV1Api, namespace: string): Promise<SealingKeyring> {
    return this.loadOrCreateIn(new SecretKeyringStorage(core, namespace));
  }

  /** Adds a new active key, keeping the old ones for decryption; republishes the certificate. */
  rotate(core: CoreV1Api, namespace: string): Promise<SealingKeyring> {
    return this.rotateIn(new SecretKeyringStorage(core, namespace));
  }

  async loadOrCreateIn(storage: KeyringStorage): Promise<SealingKeyring> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const stored = await storage.read();
      if (stored) {
        const keyring = parseKeyring(stored.text);
        await storage.publishCertificate(keyring.certificatePem, keyring.activeKeyId);
        return keyring;
      }
      const keyring = await createKeyring(this.#now());
      if ((await storage.create(serializeKeyring(keyring))) === 'created') {
        await storage.publishCertificate(keyring.certificatePem, keyring.activeKeyId);
        return keyring;
      }
    }
    throw new Error('sealing keyring could not be created or read after 3 attempts');
  }

  async rotateIn(storage: KeyringStorage): Promise<SealingKeyring> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const stored = await storage.read();
      if (!stored) return this.loadOrCreateIn(storage);
      const rotated = await rotateKeyring(parseKeyring(stored.text), this.#now());
      if ((await storage.update(serializeKeyring(rotated), stored.version)) === 'updated') {
        await storage.publishCertificate(rotated.certificatePem, rotated.activeKeyId);
        return rotated;
      }
    }
    throw new Error('sealing keyring rotation kept conflicting with another writer');
  }
}
