// The in-toto Statement the original image build publishes (openanolis trustee tools/slsa/slsa-generator):
// Statement v0.1 with the SLSA provenance v1 predicate type, subject[0] = {artifact id: sha384 of the UKI
// Authenticode digest}, subject[1] = {artifact-index-hash: sha256(id + version)}, and the older v0.2-shaped
// predicate body. Building keeps that key order byte for byte; checking tolerates Statement v1 too.
import { createHash } from 'node:crypto';
import { RefValuesError } from './errors.ts';

export const IN_TOTO_STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const INDEX_SUBJECT_NAME = 'artifact-index-hash';
export const UKI_MEASUREMENT_NAME = 'measurement.uki.SHA-384';

export interface Subject {
  name: string;
  digest: Record<string, string>;
}
export interface Statement {
  _type: string;
  subject: Subject[];
  predicateType: string;
  predicate: Record<string, unknown>;
}

/** sha256(id + version) in hex: how RVPS finds a version's entries in the Rekor index. */
export const artifactIndexHash = (artifactId: string, version: string): string =>
  createHash('sha256').update(`${artifactId}${version}`, 'utf8').digest('hex');

export function buildStatement(a: { artifactId: string; artifactVersion: string; artifactType: string; sha384: string }): Statement {
  return {
    _type: IN_TOTO_STATEMENT_V01,
    subject: [
      { name: a.artifactId, digest: { sha384: a.sha384.toLowerCase() } },
      { name: INDEX_SUBJECT_NAME, digest: { sha256: artifactIndexHash(a.artifactId, a.artifactVersion) } },
    ],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildType: SLSA_PROVENANCE_V1,
      invocation: { environment: { artifactVersion: a.artifactVersion, artifactType: a.artifactType } },
      buildConfig: {},
      metadata: {},
      materials: [],
    },
  };
}

// Messages never repeat strings from the statement: it comes from a log anyone can write to, and the
// first rejection reason lands in the policy's status.
const bad = (msg: string): never => {
  throw new RefValuesError('EntryMalformed', `statement: ${msg}`);
};
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

export function parseStatement(bytes: Buffer): Statement {
  let s: unknown;
  try {
    s = JSON.parse(bytes.toString('utf8'));
  } catch {
    return bad('payload is not JSON');
  }
  if (!isObj(s)) return bad('payload is not a JSON object');
  if (s['_type'] !== IN_TOTO_STATEMENT_V01 && s['_type'] !== IN_TOTO_STATEMENT_V1) bad('_type is not an in-toto Statement (v0.1 or v1)');
  if (typeof s['predicateType'] !== 'string') bad('predicateType is missing');
  if (!Array.isArray(s['subject']) || s['subject'].length === 0 || s['subject'].length > 64) bad('subject must be a non-empty array');
  const subject = (s['subject'] as unknown[]).map((x, i) => {
    if (!isObj(x) || typeof x['name'] !== 'string' || !isObj(x['digest'])) return bad(`subject[${i}] needs a name and a digest`);
    const digest: Record<string, string> = {};
    for (const [k, v] of Object.entries(x['digest'])) digest[k] = typeof v === 'string' ? v.toLowerCase() : bad(`subject[${i}].digest has a value that is not a string`);
    return { name: x['name'], digest };
  });
  return { _type: s['_type'] as string, subject, predicateType: s['predicateType'] as string, predicate: isObj(s['predicate']) ? s['predicate'] : {} };
}

export interface StatementPolicy {
  artifactId: string;
  allowedVersions: readonly string[];
}
export interface CheckedStatement {
  version: string;
  sha384: string;
}

const mismatch = (msg: string): never => {
  throw new RefValuesError('SubjectMismatch', `statement: ${msg}`);
};

/** The artifact's version and digest, once the statement names the policy's artifact and an allowed version. */
export function checkStatement(st: Statement, policy: StatementPolicy): CheckedStatement {
  if (st.predicateType !== SLSA_PROVENANCE_V1) {
    throw new RefValuesError('PredicateTypeMismatch', `statement: predicateType is not ${SLSA_PROVENANCE_V1}`);
  }
  const index = st.subject.filter((s) => s.name === INDEX_SUBJECT_NAME);
  if (index.length !== 1 || !index[0]?.digest['sha256']) return mismatch(`needs exactly one '${INDEX_SUBJECT_NAME}' subject with a sha256 digest`);
  const indexHash = index[0].digest['sha256'];
  const env = isObj(st.predicate['invocation']) && isObj(st.predicate['invocation']['environment']) ? st.predicate['invocation']['environment'] : {};
  const claimed = typeof env['artifactVersion'] === 'string' ? env['artifactVersion'] : undefined;
  const version = policy.allowedVersions.find((v) => artifactIndexHash(policy.artifactId, v) === indexHash);
  if (version === undefined) {
    if (claimed !== undefined && artifactIndexHash(policy.artifactId, claimed) === indexHash) {
      throw new RefValuesError('VersionNotAllowed', `statement: the predicate's artifactVersion of '${policy.artifactId}' is not in allowedVersions`);
    }
    return mismatch(`'${INDEX_SUBJECT_NAME}' is not sha256('${policy.artifactId}' + an allowed version)`);
  }
  if (claimed !== undefined && claimed !== version) mismatch(`predicate artifactVersion differs from the indexed version '${version}'`);
  const artifact = st.subject.filter((s) => s.name === policy.artifactId);
  if (artifact.length !== 1) return mismatch(`needs exactly one subject named '${policy.artifactId}', found ${artifact.length}`);
  const sha384 = artifact[0]?.digest['sha384'];
  if (!sha384 || !/^[0-9a-f]{96}$/.test(sha384)) return mismatch(`subject '${policy.artifactId}' has no 96-hex sha384 digest`);
  return { version, sha384 };
}
