// Rekor v1 REST shapes (openapi v1.5.x): LogEntry = {<uuid>: {body, integratedTime, logID, logIndex,
// attestation?, verification?}}, and the canonical intoto v0.0.2 body that `rekor-cli upload --type intoto`
// produces. Parsers only: every malformed field becomes EntryMalformed naming the field.
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

/** Decodes the canonical intoto v0.0.2 body. */
export function parseIntotoBody(bodyB64OrBytes: string | Buffer): IntotoV002Body {
  let body: unknown;
  try {
    const bytes = typeof bodyB64OrBytes === 'string' ? Buffer.from(bodyB64OrBytes, 'base64') : bodyB64OrBytes;
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    return bad('body is not base64 JSON');
  }
  if (!isObj(body)) return bad('body is not an object');
  if (body['kind'] !== 'intoto' || body['apiVersion'] !== '0.0.2') {
    bad(`body kind/apiVersion is ${String(body['kind'])}/${String(body['apiVersion'])}, expected intoto/0.0.2`);
  }
  const content = isObj(body['spec']) && isObj(body['spec']['content']) ? body['spec']['content'] : bad('body.spec.content is missing');
  const env = isObj(content['envelope']) ? content['envelope'] : bad('body.spec.content.envelope is missing');
  const sigs = Array.isArray(env['signatures']) && env['signatures'].length > 0 ? env['signatures'] : bad('body envelope has no signatures');
  const hash = (h: unknown, where: string): string =>
    isObj(h) && h['algorithm'] === 'sha256' ? str(h['value'], `${where}.value`, HEX64) : bad(`${where} must be a sha256 hash`);
  return {
    payloadType: str(env['payloadType'], 'envelope.payloadType'),
    signatures: sigs.slice(0, 16).map((s, i) => {
      if (!isObj(s)) return bad(`envelope.signatures[${i}] is not an object`);
      // Rekor stores both as base64 of the uploaded strings (the DSSE signature is itself base64).
      const sig = Buffer.from(str(s['sig'], `signatures[${i}].sig`, B64), 'base64').toString('utf8');
      const publicKey = Buffer.from(str(s['publicKey'], `signatures[${i}].publicKey`, B64), 'base64').toString('utf8');
      return typeof s['keyid'] === 'string' ? { sig, publicKey, keyid: s['keyid'] } : { sig, publicKey };
    }),
    payloadHash: hash(content['payloadHash'], 'content.payloadHash'),
    envelopeHash: hash(content['hash'], 'content.hash'),
  };
}

/** The 64-hex leaf hash part of a (possibly 80-hex, tree-ID-prefixed) entry UUID. */
export const uuidLeafHash = (uuid: string): string => uuid.slice(-64);
