// Rekor v1 REST shapes (openapi v1.5.x): LogEntry = {<uuid>: {body, integratedTime, logID, logIndex,
// attestation?, verification?}}, and the canonical bodies reference values come in: intoto 0.0.2
// (`rekor-cli upload --type intoto`), dsse 0.0.1 (cosign v3 attest-blob) and hashedrekord 0.0.1 (sign-blob). Parsers only: every malformed field becomes EntryMalformed naming the field.
import { RefValuesError } from './errors.ts';

export interface InclusionProof {
  logIndex: number;
  rootHash: string; // hex
  treeSize: number;
  hashes: string[]; // hex, leaf to root
  checkpoint: string;
}

export interface RekorLogEntry {
  uuid: string;
  body: string; // base64 of the canonical body, as served
  integratedTime: number;
  logID: string; // hex
  logIndex: number;
  attestation?: { data?: string };
  verification?: { inclusionProof?: InclusionProof; signedEntryTimestamp?: string };
}

export interface IntotoV002Body {
  payloadType: string;
  signatures: { sig: string; publicKey: string; keyid?: string }[]; // sig: the DSSE base64 signature; publicKey: PEM
  payloadHash: string; // hex sha256 of the statement bytes
  envelopeHash: string; // hex sha256 of the envelope JSON as uploaded
}

type Json = Record<string, unknown>;
const isObj = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const bad = (msg: string): never => {
  throw new RefValuesError('EntryMalformed', `rekor entry: ${msg}`);
};
const HEX64 = /^[0-9a-f]{64}$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const int = (v: unknown, where: string): number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : bad(`${where} must be a non-negative integer`);
const str = (v: unknown, where: string, re?: RegExp): string =>
  typeof v === 'string' && (!re || re.test(v)) ? v : bad(`${where} is missing or malformed`);

function parseProof(p: unknown): InclusionProof {
  if (!isObj(p)) return bad('verification.inclusionProof is not an object');
  const hashes = p['hashes'];
  if (!Array.isArray(hashes) || hashes.length > 64) return bad('verification.inclusionProof.hashes must be an array of at most 64 hashes');
  return {
    logIndex: int(p['logIndex'], 'inclusionProof.logIndex'),
    rootHash: str(p['rootHash'], 'inclusionProof.rootHash', HEX64),
    treeSize: int(p['treeSize'], 'inclusionProof.treeSize'),
    hashes: hashes.map((h, i) => str(h, `inclusionProof.hashes[${i}]`, HEX64)),
    checkpoint: str(p['checkpoint'], 'inclusionProof.checkpoint'),
  };
}

function parseOne(uuid: string, v: unknown): RekorLogEntry {
  if (!/^([0-9a-f]{16})?[0-9a-f]{64}$/.test(uuid)) bad(`UUID '${uuid.slice(0, 100)}' is not 64 or 80 hex characters`);
  if (!isObj(v)) return bad(`entry ${uuid} is not an object`);
  const entry: RekorLogEntry = {
    uuid,
    body: str(v['body'], 'body', B64),
    integratedTime: int(v['integratedTime'], 'integratedTime'),
    logID: str(v['logID'], 'logID', HEX64),
    logIndex: int(v['logIndex'], 'logIndex'),
  };
  const att = v['attestation'];
  if (att !== undefined) {
    if (!isObj(att)) bad('attestation is not an object');
    else entry.attestation = att['data'] === undefined ? {} : { data: str(att['data'], 'attestation.data', B64) };
  }
  const ver = v['verification'];
  if (ver !== undefined) {
    if (!isObj(ver)) return bad('verification is not an object');
    entry.verification = {};
    if (ver['inclusionProof'] !== undefined) entry.verification.inclusionProof = parseProof(ver['inclusionProof']);
    if (ver['signedEntryTimestamp'] !== undefined) {
      entry.verification.signedEntryTimestamp = str(ver['signedEntryTimestamp'], 'verification.signedEntryTimestamp', B64);
    }
  }
  return entry;
}

/** Parses a LogEntry object ({uuid: entry}) or an array of them (the /entries/retrieve answer). */
export function parseLogEntries(json: unknown): RekorLogEntry[] {
  const maps = Array.isArray(json) ? json : [json];
  return maps.flatMap((m, i) => (isObj(m) ? Object.entries(m).map(([k, v]) => parseOne(k, v)) : bad(`LogEntry[${i}] is not an object`)));
}

export interface DsseV001Body {
  payloadHash: string; // hex sha256 of the DSSE payload (the statement)
  envelopeHash: string; // hex sha256 of the envelope JSON as uploaded
  signatures: { signature: string; verifierPem: string }[]; // signature: base64 as in the envelope
}

export interface HashedRekordV001Body {
  /** hex digest of the signed blob (cosign sign-blob: the statement file) */
  sha256: string;
  signature: Buffer;
  publicKeyPem: string;
}

export type LogBody = { kind: 'intoto'; body: IntotoV002Body } | { kind: 'dsse'; body: DsseV001Body } | { kind: 'hashedrekord'; body: HashedRekordV001Body };

function decodeBody(bodyB64OrBytes: string | Buffer): Json {
  let body: unknown;
  try {
    const bytes = typeof bodyB64OrBytes === 'string' ? Buffer.from(bodyB64OrBytes, 'base64') : bodyB64OrBytes;
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    return bad('body is not base64 JSON');
  }
  return isObj(body) ? body : bad('body is not an object');
}

const sha256Of = (h: unknown, where: string): string =>
  isObj(h) && h['algorithm'] === 'sha256' ? str(h['value'], `${where}.value`, HEX64) : bad(`${where} must be a sha256 hash`);

/** Decodes the canonical intoto v0.0.2 body. */
export function parseIntotoBody(bodyB64OrBytes: string | Buffer): IntotoV002Body {
  const body = decodeBody(bodyB64OrBytes);
  if (body['kind'] !== 'intoto' || body['apiVersion'] !== '0.0.2') bad('body kind/apiVersion is not intoto/0.0.2');
  return intotoSpec(body);
}

function intotoSpec(body: Json): IntotoV002Body {
  const content = isObj(body['spec']) && isObj(body['spec']['content']) ? body['spec']['content'] : bad('body.spec.content is missing');
  const env = isObj(content['envelope']) ? content['envelope'] : bad('body.spec.content.envelope is missing');
  const sigs = Array.isArray(env['signatures']) && env['signatures'].length > 0 ? env['signatures'] : bad('body envelope has no signatures');
  return {
    payloadType: str(env['payloadType'], 'envelope.payloadType'),
    signatures: sigs.slice(0, 16).map((s, i) => {
      if (!isObj(s)) return bad(`envelope.signatures[${i}] is not an object`);
      // Rekor stores both as base64 of the uploaded strings (the DSSE signature is itself base64).
      const sig = Buffer.from(str(s['sig'], `signatures[${i}].sig`, B64), 'base64').toString('utf8');
      const publicKey = Buffer.from(str(s['publicKey'], `signatures[${i}].publicKey`, B64), 'base64').toString('utf8');
      return typeof s['keyid'] === 'string' ? { sig, publicKey, keyid: s['keyid'] } : { sig, publicKey };
    }),
    payloadHash: sha256Of(content['payloadHash'], 'content.payloadHash'),
    envelopeHash: sha256Of(content['hash'], 'content.hash'),
  };
}

/** dsse 0.0.1 as Rekor canonicalizes it (cosign v3 attest-blob): hashes and signatures, no envelope. */
function dsseSpec(body: Json): DsseV001Body {
  const spec = isObj(body['spec']) ? body['spec'] : bad('body.spec is missing');
  const sigs = Array.isArray(spec['signatures']) && spec['signatures'].length > 0 ? spec['signatures'] : bad('dsse body has no signatures');
  return {
    payloadHash: sha256Of(spec['payloadHash'], 'spec.payloadHash'),
    envelopeHash: sha256Of(spec['envelopeHash'], 'spec.envelopeHash'),
    signatures: sigs.slice(0, 16).map((s, i) => {
      if (!isObj(s)) return bad(`spec.signatures[${i}] is not an object`);
      return {
        signature: str(s['signature'], `spec.signatures[${i}].signature`, B64),
        verifierPem: Buffer.from(str(s['verifier'], `spec.signatures[${i}].verifier`, B64), 'base64').toString('utf8'),
      };
    }),
  };
}

/** hashedrekord 0.0.1 (cosign sign-blob): the blob's digest, the signature and the key, no blob. */
function hashedRekordSpec(body: Json): HashedRekordV001Body {
  const spec = isObj(body['spec']) ? body['spec'] : bad('body.spec is missing');
  const data = isObj(spec['data']) ? spec['data'] : bad('spec.data is missing');
  const sig = isObj(spec['signature']) ? spec['signature'] : bad('spec.signature is missing');
  const pk = isObj(sig['publicKey']) ? sig['publicKey'] : bad('spec.signature.publicKey is missing');
  return {
    sha256: sha256Of(data['hash'], 'spec.data.hash'),
    signature: Buffer.from(str(sig['content'], 'spec.signature.content', B64), 'base64'),
    publicKeyPem: Buffer.from(str(pk['content'], 'spec.signature.publicKey.content', B64), 'base64').toString('utf8'),
  };
}

/** The entry body of any kind reference values accept; other kinds are EntryMalformed (not ours). */
export function parseLogBody(bodyB64OrBytes: string | Buffer): LogBody {
  const body = decodeBody(bodyB64OrBytes);
  const kind = `${typeof body['kind'] === 'string' ? body['kind'] : ''}/${typeof body['apiVersion'] === 'string' ? body['apiVersion'] : ''}`;
  switch (kind) {
    case 'intoto/0.0.2':
      return { kind: 'intoto', body: intotoSpec(body) };
    case 'dsse/0.0.1':
      return { kind: 'dsse', body: dsseSpec(body) };
    case 'hashedrekord/0.0.1':
      return { kind: 'hashedrekord', body: hashedRekordSpec(body) };
    default:
      return bad('body kind/apiVersion is not intoto/0.0.2, dsse/0.0.1 or hashedrekord/0.0.1');
  }
}

/** The 64-hex leaf hash part of a (possibly 80-hex, tree-ID-prefixed) entry UUID. */
export const uuidLeafHash = (uuid: string): string => uuid.slice(-64);
