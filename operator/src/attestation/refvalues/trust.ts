// Trust material in the Sigstore trusted_root.json format: the transparency-log keys this project uses for
// its own Rekor v1 checks, plus the parsed JSON that @sigstore/verify consumes for bundle verification.
// Stricter than @sigstore/verify 4.1.3 in one place: a key or authority without validFor.start is refused
// (the conformance case trust-root-tlog-missing-validity-start_fail), because a missing bound must not
// silently mean "valid since forever".
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { RefValuesError } from './errors.ts';
import { PUBLIC_GOOD_TRUSTED_ROOT_JSON } from './public-good-trusted-root.ts';

export interface LogKey {
  baseUrl: string;
  /** SHA-256 of the SPKI DER for Rekor v1 (the entry's logID), or the C2SP key ID for Rekor v2. */
  logId: Buffer;
  key: KeyObject;
  keyDetails: string;
  validFrom: Date;
  validTo?: Date;
}

export interface TrustedRootMaterial {
  /** The parsed trusted_root.json object, as given (for TrustedRoot.fromJSON). */
  json: Record<string, unknown>;
  tlogs: LogKey[];
}

type Json = Record<string, unknown>;
const isObj = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const invalid = (msg: string): never => {
  throw new RefValuesError('TrustedRootInvalid', `trusted root: ${msg}`);
};

function parseDate(v: unknown, where: string, required: boolean): Date | undefined {
  if ((v === undefined || v === null) && !required) return undefined;
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) return invalid(`${where} is missing or not an RFC 3339 time`);
  return new Date(v);
}

function checkValidFor(v: unknown, where: string): { start: Date; end?: Date } {
  if (!isObj(v)) return invalid(`${where}.validFor is missing`);
  const start = parseDate(v['start'], `${where}.validFor.start`, true) as Date;
  const end = parseDate(v['end'], `${where}.validFor.end`, false);
  if (end && end < start) invalid(`${where}.validFor ends before it starts`);
  return end ? { start, end } : { start };
}

function parseTlog(t: unknown, i: number): LogKey {
  const where = `tlogs[${i}]`;
  if (!isObj(t) || !isObj(t['publicKey']) || !isObj(t['logId'])) return invalid(`${where} lacks publicKey or logId`);
  const pk = t['publicKey'];
  if (typeof t['baseUrl'] !== 'string') invalid(`${where}.baseUrl is missing`);
  if (typeof pk['rawBytes'] !== 'string' || typeof pk['keyDetails'] !== 'string') invalid(`${where}.publicKey lacks rawBytes/keyDetails`);
  if (typeof t['logId']['keyId'] !== 'string') invalid(`${where}.logId.keyId is missing`);
  const validity = checkValidFor(pk['validFor'], `${where}.publicKey`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(pk['rawBytes'] as string, 'base64'), format: 'der', type: 'spki' });
  } catch {
    return invalid(`${where}.publicKey.rawBytes is not an SPKI public key`);
  }
  return {
    baseUrl: t['baseUrl'] as string,
    logId: Buffer.from(t['logId']['keyId'] as string, 'base64'),
    key,
    keyDetails: pk['keyDetails'] as string,
    validFrom: validity.start,
    ...(validity.end ? { validTo: validity.end } : {}),
  };
}

/** Parses and checks a trusted_root.json text. Throws TrustedRootInvalid with the offending field. */
export function parseTrustedRoot(text: string): TrustedRootMaterial {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return invalid(`not JSON (${(e as Error).message})`);
  }
  if (!isObj(json)) return invalid('top level is not an object');
  const list = (k: string): unknown[] => {
    const v = json[k];
    if (v === undefined) return [];
    return Array.isArray(v) ? v : invalid(`${k} is not an array`);
  };
  const tlogs = list('tlogs').map(parseTlog);
  list('ctlogs').forEach((c, i) => checkValidFor(isObj(c) && isObj(c['publicKey']) ? c['publicKey']['validFor'] : undefined, `ctlogs[${i}].publicKey`));
  list('certificateAuthorities').forEach((c, i) => checkValidFor(isObj(c) ? c['validFor'] : undefined, `certificateAuthorities[${i}]`));
  list('timestampAuthorities').forEach((c, i) => checkValidFor(isObj(c) ? c['validFor'] : undefined, `timestampAuthorities[${i}]`));
  return { json, tlogs };
}

let publicGood: TrustedRootMaterial | undefined;
/** The embedded Sigstore public-good trusted root (rekor.sigstore.dev). */
export function publicGoodTrustedRoot(): TrustedRootMaterial {
  publicGood ??= parseTrustedRoot(PUBLIC_GOOD_TRUSTED_ROOT_JSON);
  return publicGood;
}

/** The log key whose logID matches and whose validity covers `at`; LogKeyUnknown otherwise. */
export function findLogKey(trust: TrustedRootMaterial, logId: Buffer, at: Date): LogKey {
  const candidates = trust.tlogs.filter((t) => t.logId.equals(logId));
  if (candidates.length === 0) {
    throw new RefValuesError('LogKeyUnknown', `no trusted transparency log has logID ${logId.toString('hex')}`);
  }
  const valid = candidates.find((t) => t.validFrom <= at && (!t.validTo || at <= t.validTo));
  if (!valid) {
    throw new RefValuesError('LogKeyUnknown', `the key of log ${logId.toString('hex')} is not valid at ${at.toISOString()}`);
  }
  return valid;
}

/** Rekor v1 log ID: SHA-256 of the log key's SPKI DER. */
export const rekorLogId = (key: KeyObject): Buffer =>
  createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest();
