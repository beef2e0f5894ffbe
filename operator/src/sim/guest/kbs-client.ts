// KBS 0.4.0 client as the guest's attestation-agent runs it (RCAR: auth → attest → GET resource, with a
// fresh TEE key per handshake), producing `sample` evidence bound to that key. A first GET goes out without
// a cookie; a 401 triggers a handshake and a retry (at most 3 GETs), and a failed handshake is retried up to
// 5 times — the retry rules of the Rust client.
import type { Agent } from 'node:http';
import { decryptKbsJwe } from '../../release/jwe.ts';
import { deviceReportData, primaryReportData } from '../../protocol/runtime-data.ts';
import { generateTeeKeyPair, type TeeKeyAlgorithm, type TeeKeyPair, type TeePubKey } from '../../protocol/tee-key.ts';
import { sampleEvidence } from '../../attestation/sample/verifier.ts';
import { initDataDigestOf } from '../../pep/attestation.ts';
import { compositeEvidence, sampleAttester, type CompositeEvidence, type GuestAttester } from './attester.ts';
import { httpCall, type HttpReply } from './http.ts';

export type KbsClientErrorCode = 'Transport' | 'AttestationRefused' | 'ResourceNotFound' | 'Unauthorized' | 'BadResponse';

export class KbsClientError extends Error {
  readonly code: KbsClientErrorCode;
  readonly status: number | undefined;
  readonly kbsType: string | undefined;
  constructor(code: KbsClientErrorCode, message: string, status?: number, kbsType?: string) {
    super(message);
    this.name = 'KbsClientError';
    this.code = code;
    this.status = status;
    this.kbsType = kbsType;
  }
}

export type Evidence = CompositeEvidence;

export interface KbsClientOptions {
  baseUrl: string;
  svn?: string;
  keyAlgorithm?: TeeKeyAlgorithm;
  /** Also send `sampledevice` additional evidence (like ENABLE_SAMPLE_DEVICE). */
  sampleDevice?: boolean;
  /** The guest's evidence source (TEE type and evidence); default the sample TEE per `svn`/`sampleDevice`. */
  attester?: GuestAttester;
  initData?: string;
  /** Called after each successful handshake with the EAR token and the TEE key it was issued for. */
  onAttested?: (token: string, teePubkey: TeePubKey) => void;
  /** Override the evidence (tests craft hostile evidence with it). */
  evidence?: (nonce: string, teePubkey: TeePubKey) => Evidence;
  agent?: Agent;
  /** PEM CA for an HTTPS KBS (the guest's KBS_CERT). */
  ca?: string;
  timeoutMs?: number;
  handshakeAttempts?: number;
  handshakeRetryDelayMs?: number;
  getAttempts?: number;
}

export function sampleCompositeEvidence(nonce: string, teePubkey: TeePubKey, svn = '1', sampleDevice = false): Evidence {
  const additional = sampleDevice ? JSON.stringify({ sampledevice: sampleEvidence(deviceReportData(nonce, teePubkey), '2') }) : '';
  return { primary: sampleEvidence(primaryReportData(nonce, teePubkey, additional), svn), additional };
}

function errorInfo(r: HttpReply): { type?: string; detail?: string } {
  try {
    const v = JSON.parse(r.body.toString('utf8')) as { type?: unknown; detail?: unknown };
    return { ...(typeof v.type === 'string' ? { type: v.type.split('/').pop()! } : {}), ...(typeof v.detail === 'string' ? { detail: v.detail } : {}) };
  } catch {
    return {};
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class KbsClient {
  readonly #o: KbsClientOptions;
  #cookie: string | undefined;
  #key: TeeKeyPair | undefined;
  token: string | undefined;

  constructor(opts: KbsClientOptions) {
    this.#o = opts;
  }

  async #call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpReply> {
    try {
      return await httpCall(method, `${this.#o.baseUrl}/kbs/v0/${path}`, {
        ...(body !== undefined ? { body } : {}),
        headers: { ...headers, ...(this.#cookie ? { cookie: this.#cookie } : {}) },
        ...(this.#o.agent ? { agent: this.#o.agent } : {}),
        ...(this.#o.ca ? { ca: this.#o.ca } : {}),
        timeoutMs: this.#o.timeoutMs ?? 60_000,
      });
    } catch (err) {
      throw new KbsClientError('Transport', `KBS request ${method} ${path} failed: ${err instanceof Error ? err.message : 'error'}`);
    }
  }

  #takeCookie(r: HttpReply): void {
    const raw = r.headers['set-cookie'];
    const first = (Array.isArray(raw) ? raw : raw ? [raw] : []).map((c) => c.split(';')[0]!).find((c) => c.startsWith('kbs-session-id='));
    if (first) this.#cookie = first;
  }

  /** One RCAR handshake; returns the EAR token. */
  async handshakeOnce(): Promise<string> {
    this.#cookie = undefined;
    const attester = this.#o.attester ?? sampleAttester(this.#o.svn, this.#o.sampleDevice, this.#o.initData !== undefined ? initDataDigestOf(this.#o.initData) : undefined);
    const auth = await this.#call('POST', 'auth', { version: '0.4.0', tee: attester.tee, 'extra-params': { 'supported-hash-algorithms': ['sha384'] } });
    if (auth.status !== 200) throw new KbsClientError('AttestationRefused', `auth refused: ${errorInfo(auth).detail ?? auth.status}`, auth.status, errorInfo(auth).type);
    this.#takeCookie(auth);
    const challenge = JSON.parse(auth.body.toString('utf8')) as { nonce: string };
    const key = generateTeeKeyPair(this.#o.keyAlgorithm);
    const ev = this.#o.evidence?.(challenge.nonce, key.publicKey) ?? (await compositeEvidence(attester, challenge.nonce, key.publicKey));
    const attestation = {
      ...(this.#o.initData ? { 'init-data': { format: 'toml', body: this.#o.initData } } : {}),
      'runtime-data': { nonce: challenge.nonce, 'tee-pubkey': key.publicKey },
      'tee-evidence': { primary_evidence: ev.primary, additional_evidence: ev.additional },
    };
    const att = await this.#call('POST', 'attest', attestation);
    if (att.status !== 200) throw new KbsClientError('AttestationRefused', `attest refused: ${errorInfo(att).detail ?? att.status}`, att.status, errorInfo(att).type);
    this.#takeCookie(att);
    const token = (JSON.parse(att.body.toString('utf8')) as { token?: unknown }).token;
    if (typeof token !== 'string') throw new KbsClientError('BadResponse', 'attest response has no token');
    this.#key = key;
    this.token = token;
    this.#o.onAttested?.(token, key.publicKey);
    return token;
  }

  async handshake(): Promise<string> {
    const attempts = this.#o.handshakeAttempts ?? 5;
    for (let i = 1; ; i++) {
      try {
        return await this.handshakeOnce();
      } catch (err) {
        if (i >= attempts) throw err;
        await sleep(this.#o.handshakeRetryDelayMs ?? 1000);
      }
    }
  }

  /** GET a resource, attesting on 401, and decrypt it with the handshake's TEE key. */
  async getResource(resourcePath: string): Promise<Buffer> {
    const attempts = this.#o.getAttempts ?? 3;
    let last: KbsClientError | undefined;
    for (let i = 0; i < attempts; i++) {
      const r = await this.#call('GET', `resource/${resourcePath}`);
      if (r.status === 200 && this.#key) {
        try {
          return decryptKbsJwe(JSON.parse(r.body.toString('utf8')), this.#key.privateKey);
        } catch (err) {
          throw new KbsClientError('BadResponse', `resource response did not decrypt: ${err instanceof Error ? err.message : 'error'}`);
        }
      }
      const info = errorInfo(r);
      if (r.status === 404) throw new KbsClientError('ResourceNotFound', `resource ${resourcePath} not found: ${info.detail ?? ''}`, 404, info.type);
      if (r.status !== 401 || info.type === undefined) throw new KbsClientError('BadResponse', `unexpected KBS reply ${r.status}`, r.status);
      last = new KbsClientError('Unauthorized', `resource ${resourcePath} refused: ${info.detail ?? ''}`, 401, info.type);
      if (i + 1 < attempts) await this.handshake();
    }
    throw last ?? new KbsClientError('Unauthorized', 'resource refused');
  }

  /** GET with `Authorization: Bearer` (the confidential-data-hub path): no cookie, no handshake. */
  async getResourceWithBearer(resourcePath: string, token: string, privateKey: TeeKeyPair['privateKey']): Promise<Buffer> {
    const saved = this.#cookie;
    this.#cookie = undefined;
    try {
      const r = await this.#call('GET', `resource/${resourcePath}`, undefined, { authorization: `Bearer ${token}` });
      if (r.status !== 200) throw new KbsClientError(r.status === 404 ? 'ResourceNotFound' : 'Unauthorized', errorInfo(r).detail ?? String(r.status), r.status, errorInfo(r).type);
      return decryptKbsJwe(JSON.parse(r.body.toString('utf8')), privateKey);
    } finally {
      this.#cookie = saved;
    }
  }

  get teeKey(): TeeKeyPair | undefined {
    return this.#key;
  }
}
