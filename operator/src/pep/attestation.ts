// How the sandbox policy becomes part of what is attested. The guest launches with init-data (CoCo
// init-data TOML, whose digest TDX binds to MRCONFIGID and the verifier checks) naming the digest of
// the policy its PEP will enforce; the PEP refuses any other policy bytes. The KBS lifts that digest
// from the verified init-data into the CPU evidence claims, where AttestationPolicy.spec.sandboxPolicy
// is checked (attestation/policy/sandbox-policy.ts).
import { createHash } from 'node:crypto';
import { SANDBOX_POLICY_DIGEST_PATTERN } from '../api/sandbox-policy.ts';
import { SANDBOX_POLICY_CLAIM } from '../attestation/policy/sandbox-policy.ts';
import type { VerifiedEvidence } from '../attestation/verifier.ts';

/** The init-data key (in its [data] table). */
export const INIT_DATA_KEY = 'cai-pep-policy.digest';
/** Where the policy document is delivered (KBS resource path / injection path). */
export const SANDBOX_POLICY_RESOURCE = 'default/cai-pep/policy';
const MAX_INIT_DATA = 64 * 1024;

export class InitDataError extends Error {
  readonly code = 'PEP_INIT_DATA';
}

/** The init-data TOML a guest launches with so that its evidence binds `digest`. */
export function initDataForPolicy(digest: string, extraData = ''): string {
  if (!SANDBOX_POLICY_DIGEST_PATTERN.test(digest)) throw new InitDataError(`not a sandbox policy digest: ${digest.slice(0, 80)}`);
  return `algorithm = "sha384"\nversion = "0.1.0"\n\n[data]\n"${INIT_DATA_KEY}" = "${digest}"\n${extraData}`;
}

/**
 * The digest TDX binds to MRCONFIGID for init-data the operator wrote (initDataForPolicy declares
 * `algorithm = "sha384"`): SHA-384 of the TOML bytes, as trustee computes it.
 */
export function initDataDigestOf(body: string): Buffer {
  return createHash('sha384').update(body, 'utf8').digest();
}

/**
 * The sandbox policy digest an init-data TOML names, or undefined. Linear scan: only the [data] table,
 * multi-line strings skipped (a value cannot smuggle a second key line), a repeated key is an error.
 */
export function policyDigestFromInitData(body: string): string | undefined {
  if (body.length > MAX_INIT_DATA) throw new InitDataError('init-data is larger than 64 KiB');
  let table = '';
  let inMulti: string | undefined;
  let found: string | undefined;
  for (const raw of body.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (inMulti) {
      if (line.includes(inMulti)) inMulti = undefined;
      continue;
    }
    const t = line.trim();
    if (t.startsWith('#') || t === '') continue;
    const header = /^\[\s*([A-Za-z0-9_."-]+)\s*\]$/.exec(t);
    if (header) {
      table = header[1] as string;
      continue;
    }
    for (const q of ["'''", '"""']) {
      const n = t.split(q).length - 1;
      if (n % 2 === 1) inMulti = q;
    }
    if (table !== 'data') continue;
    const m = /^"cai-pep-policy\.digest"\s*=\s*"([^"]*)"$/.exec(t);
    if (!m) continue;
    if (found !== undefined) throw new InitDataError(`init-data names ${INIT_DATA_KEY} more than once`);
    if (!SANDBOX_POLICY_DIGEST_PATTERN.test(m[1] as string)) throw new InitDataError(`init-data ${INIT_DATA_KEY} is not sha256:<64 hex>`);
    found = m[1];
  }
  return found;
}

/** Adds the init-data's sandbox policy digest to the primary evidence claims (unchanged when absent). */
export function withSandboxPolicyClaim(verified: VerifiedEvidence[], initDataBody: string | undefined): VerifiedEvidence[] {
  if (initDataBody === undefined) return verified;
  let digest: string | undefined;
  try {
    digest = policyDigestFromInitData(initDataBody);
  } catch {
    digest = undefined; // a malformed entry reports nothing; a policy that requires a digest then refuses
  }
  if (digest === undefined) return verified;
  let done = false;
  return verified.map((v) => {
    if (done || v.teeClass !== 'cpu') return v;
    done = true;
    return { ...v, claims: { ...v.claims, [SANDBOX_POLICY_CLAIM]: digest } };
  });
}
