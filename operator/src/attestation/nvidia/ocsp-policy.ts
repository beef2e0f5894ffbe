// Applies the AttestationPolicy OCSP mode to the answers for one GPU's certificates.
//  Require: every certificate must be answered 'good'.  Prefer: revoked/unknown/forged answers fail,
//  an unreachable responder only warns.  Skip: no OCSP traffic at all.
import { NvidiaError } from './errors.ts';
import type { OcspClient, OcspQuery } from './ocsp-client.ts';

export type OcspPolicy = 'Require' | 'Prefer' | 'Skip';
export type OcspOutcome = 'good' | 'skipped' | 'unavailable';

const REASONS: Record<number, string> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

export async function checkOcsp(
  queries: Omit<OcspQuery, 'at' | 'url'>[],
  o: { client: OcspClient | undefined; policy: OcspPolicy; at: Date; url?: string },
): Promise<{ outcome: OcspOutcome; warnings: string[] }> {
  if (o.policy === 'Skip' || queries.length === 0) return { outcome: 'skipped', warnings: [] };
  const client = o.client;
  if (!client) {
    if (o.policy === 'Require') throw new NvidiaError('OcspUnavailable', 'OCSP is required by policy but no OCSP client is configured');
    return { outcome: 'unavailable', warnings: ['OCSP not checked: no OCSP client is configured'] };
  }
  const answers = await Promise.all(queries.map((q) => client.check({ ...q, at: o.at, ...(o.url ? { url: o.url } : {}) })));
  const warnings: string[] = [];
  answers.forEach((a, i) => {
    const name = queries[i]?.cert.name ?? '?';
    const where = `${queries[i]?.kind ?? ''} certificate '${name}'`;
    if (a.status === 'revoked') {
      const reason = a.verdict.reason !== undefined ? ` (${REASONS[a.verdict.reason] ?? `reason ${a.verdict.reason}`})` : '';
      const when = a.verdict.revokedAt ? ` at ${a.verdict.revokedAt.toISOString()}` : '';
      throw new NvidiaError('OcspRevoked', `${where} is revoked${reason}${when} according to OCSP`);
    }
    if (a.status === 'unknown') throw new NvidiaError('OcspUnknown', `OCSP responder does not know ${where}`);
    if (a.status === 'invalid') throw new NvidiaError('OcspResponseInvalid', `${where}: ${a.reason}`);
    if (a.status === 'unavailable') {
      if (o.policy === 'Require') throw new NvidiaError('OcspUnavailable', `${where}: ${a.reason} (policy requires OCSP)`);
      warnings.push(`${where}: ${a.reason}`);
    }
  });
  return { outcome: warnings.length > 0 ? 'unavailable' : 'good', warnings: [...new Set(warnings)] };
}
