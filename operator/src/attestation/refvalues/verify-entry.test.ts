// Rekor v1 entry verification against the local test log (real RFC 6962 tree, real P-256 signatures):
// one good entry verifies; each tampering is rejected with its own reason.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RekorLogState } from '../../../test/support/rekor-log/log-state.ts';
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from './dsse.ts';
import { RefValuesError } from './errors.ts';
import { parseLogEntries, type RekorLogEntry } from './log-entry.ts';
import { intotoProposal } from './publish.ts';
import { buildStatement, type Statement } from './statement.ts';
import { parseTrustedRoot } from './trust.ts';
import { verifyRekorEntry, type EntryPolicy } from './verify-entry.ts';

const ID = 'cai-openclaw-vllm-prod';
const VERSION = '202604281010';
const UKI = 'ab'.repeat(48);
const NOW = new Date('2026-11-21T12:00:00Z');
const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();

function logStatement(log: RekorLogState, st: Statement, key = signer.privateKey, pub = signer.publicKey): RekorLogEntry {
  const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(st)), key);
  log.propose(intotoProposal(env, pem(pub)));
  return parseLogEntries(log.logEntry(log.entries.length - 1))[0]!;
}

function setup() {
  const log = new RekorLogState();
  log.now = () => Math.floor(NOW.getTime() / 1000) - 3600;
  // A few unrelated entries first so that proofs have several levels and the index is not 0.
  for (let i = 0; i < 5; i++) logStatement(log, buildStatement({ artifactId: `other-${i}`, artifactVersion: '1', artifactType: 'uki', sha384: 'cd'.repeat(48) }));
  const entry = logStatement(log, buildStatement({ artifactId: ID, artifactVersion: VERSION, artifactType: 'uki', sha384: UKI }));
  for (let i = 0; i < 3; i++) logStatement(log, buildStatement({ artifactId: `later-${i}`, artifactVersion: '1', artifactType: 'uki', sha384: 'ef'.repeat(48) }));
  const fresh = parseLogEntries(log.logEntry(5))[0]!;
  const trust = parseTrustedRoot(log.trustedRootJson('https://rekor.local'));
  return { log, entry: fresh, first: entry, trust };
}

const policy: EntryPolicy = { publicKey: signer.publicKey, artifactId: ID, allowedVersions: [VERSION] };
const reasonOf = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return e instanceof RefValuesError ? e.reason : `unexpected: ${String(e)}`;
  }
};
const clone = (e: RekorLogEntry): RekorLogEntry => structuredClone(e);
const flipB64 = (b64: string, at = 10): string => {
  const b = Buffer.from(b64, 'base64');
  b.writeUInt8(b.readUInt8(at) ^ 1, at);
  return b.toString('base64');
};

describe('verifyRekorEntry', () => {
  const { log, entry, first, trust } = setup();

  it('accepts a published entry and returns the digest, version, global index and checkpoint', () => {
    const v = verifyRekorEntry(entry, trust, policy, NOW);
    expect(v.sha384).toBe(UKI);
    expect(v.version).toBe(VERSION);
    expect(v.logIndex).toBe(1005); // global index; the proof uses the shard-local index 5
    expect(entry.verification?.inclusionProof?.logIndex).toBe(5);
    expect(v.checkpoint.treeSize).toBe(9n);
    expect(v.checkpoint.origin).toBe(log.origin);
    // The proof served at publish time (tree size 6) verifies too.
    expect(verifyRekorEntry(first, trust, policy, NOW).checkpoint.treeSize).toBe(6n);
  });

  it('rejects each kind of tampering with a distinct reason', () => {
    const cases: Record<string, (e: RekorLogEntry) => void> = {
      body: (e) => void (e.body = flipB64(e.body, 40)),
      set: (e) => void (e.verification!.signedEntryTimestamp = flipB64(e.verification!.signedEntryTimestamp!, 20)),
      proofHashes: (e) => void (e.verification!.inclusionProof!.hashes[1] = 'ff'.repeat(32)),
      checkpoint: (e) => {
        const p = e.verification!.inclusionProof!;
        p.checkpoint = p.checkpoint.replace(/\n9\n/, '\n10\n');
        p.treeSize = 10;
      },
      statementStorage: (e) => void (e.attestation!.data = Buffer.from(Buffer.from(e.attestation!.data!, 'base64').toString().replace(UKI, 'aa'.repeat(48))).toString('base64')),
    };
    const reasons: Record<string, string> = {};
    for (const [name, tamper] of Object.entries(cases)) {
      const e = clone(entry);
      tamper(e);
      reasons[name] = reasonOf(() => verifyRekorEntry(e, trust, policy, NOW));
    }
    // Entries that are genuinely in the log but fail the policy:
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    reasons['dsseSignatureOtherKey'] = reasonOf(() => verifyRekorEntry(logStatement(log, buildStatement({ artifactId: ID, artifactVersion: VERSION, artifactType: 'uki', sha384: UKI }), otherKey.privateKey, otherKey.publicKey), trust, policy, NOW));
    reasons['subject'] = reasonOf(() => verifyRekorEntry(logStatement(log, { ...buildStatement({ artifactId: ID, artifactVersion: VERSION, artifactType: 'uki', sha384: UKI }), subject: [{ name: 'someone-else', digest: { sha384: UKI } }, { name: 'artifact-index-hash', digest: { sha256: '00'.repeat(32) } }] }), trust, policy, NOW));
    reasons['predicateType'] = reasonOf(() => verifyRekorEntry(logStatement(log, { ...buildStatement({ artifactId: ID, artifactVersion: VERSION, artifactType: 'uki', sha384: '12'.repeat(48) }), predicateType: 'https://example.com/other' }), trust, policy, NOW));
    reasons['version'] = reasonOf(() => verifyRekorEntry(logStatement(log, buildStatement({ artifactId: ID, artifactVersion: '209901010000', artifactType: 'uki', sha384: UKI })), trust, policy, NOW));
    reasons['logKey'] = reasonOf(() => verifyRekorEntry(entry, parseTrustedRoot(new RekorLogState().trustedRootJson('https://x')), policy, NOW));
    reasons['future'] = reasonOf(() => verifyRekorEntry(entry, trust, policy, new Date(NOW.getTime() - 7200_000)));
    expect(reasons).toEqual({
      body: 'BodyUuidMismatch',
      set: 'SetInvalid',
      proofHashes: 'InclusionProofInvalid',
      checkpoint: 'CheckpointInvalid',
      statementStorage: 'BodyEnvelopeMismatch',
      dsseSignatureOtherKey: 'SignatureInvalid',
      subject: 'SubjectMismatch',
      predicateType: 'PredicateTypeMismatch',
      version: 'VersionNotAllowed',
      logKey: 'LogKeyUnknown',
      future: 'EntryFromFuture',
    });
    expect(new Set(Object.values(reasons)).size).toBe(Object.keys(reasons).length);
  });

  it('rejects a forged DSSE signature that a careless log accepted', () => {
    const careless = new RekorLogState();
    careless.acceptUnverifiedSignatures = true;
    careless.now = () => Math.floor(NOW.getTime() / 1000) - 60;
    const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(buildStatement({ artifactId: ID, artifactVersion: VERSION, artifactType: 'uki', sha384: UKI }))), signer.privateKey);
    env.signatures[0]!.sig = flipB64(env.signatures[0]!.sig, 12);
    careless.propose(intotoProposal(env, pem(signer.publicKey)));
    const e = parseLogEntries(careless.logEntry(0))[0]!;
    expect(reasonOf(() => verifyRekorEntry(e, parseTrustedRoot(careless.trustedRootJson('https://c')), policy, NOW))).toBe('SignatureInvalid');
  });

  it('rejects a proof whose root differs from the checkpoint, a missing SET, a missing proof, a missing attestation', () => {
    const noRoot = clone(entry);
    noRoot.verification!.inclusionProof!.rootHash = '00'.repeat(32);
    expect(reasonOf(() => verifyRekorEntry(noRoot, trust, policy, NOW))).toBe('InclusionProofInvalid');
    const noSet = clone(entry);
    delete noSet.verification!.signedEntryTimestamp;
    expect(reasonOf(() => verifyRekorEntry(noSet, trust, policy, NOW))).toBe('SetInvalid');
    const noProof = clone(entry);
    delete noProof.verification!.inclusionProof;
    expect(reasonOf(() => verifyRekorEntry(noProof, trust, policy, NOW))).toBe('InclusionProofInvalid');
    const noAtt = clone(entry);
    delete noAtt.attestation;
    expect(reasonOf(() => verifyRekorEntry(noAtt, trust, policy, NOW))).toBe('EntryMalformed');
    const wrongIndex = clone(entry);
    wrongIndex.logIndex = 1006; // the SET covers the global index
    expect(reasonOf(() => verifyRekorEntry(wrongIndex, trust, policy, NOW))).toBe('SetInvalid');
  });

  it('parsers reject malformed REST shapes with EntryMalformed', () => {
    const good = log.logEntry(5);
    const uuid = Object.keys(good)[0]!;
    const v = good[uuid] as Record<string, unknown>;
    const bad: unknown[] = [
      null, 'x', [1], { nothex: v }, { [uuid]: { ...v, body: 7 } }, { [uuid]: { ...v, logIndex: -1 } },
      { [uuid]: { ...v, logID: 'zz' } }, { [uuid]: { ...v, verification: { inclusionProof: { hashes: 'x' } } } },
      { [uuid]: { ...v, integratedTime: 1.5 } }, { [uuid]: { ...v, attestation: 'x' } },
    ];
    for (const b of bad) expect(reasonOf(() => parseLogEntries(b)), JSON.stringify(b)?.slice(0, 80)).toBe('EntryMalformed');
  });
});
