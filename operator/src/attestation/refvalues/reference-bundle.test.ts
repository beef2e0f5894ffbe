// Offline reference-value bundles (.sigstore.json): a published entry converted to a bundle verifies through
// @sigstore/verify, and each tampering maps to its own project reason.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RekorLogState } from '../../../test/support/rekor-log/log-state.ts';
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from './dsse.ts';
import { RefValuesError } from './errors.ts';
import { parseLogEntries, type RekorLogEntry } from './log-entry.ts';
import { intotoProposal } from './publish.ts';
import { entryToBundle, verifyReferenceBundle } from './reference-bundle.ts';
import { buildStatement } from './statement.ts';
import { parseTrustedRoot } from './trust.ts';

const NOW = new Date('2026-11-21T12:00:00Z');
const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const log = new RekorLogState();
log.now = () => Math.floor(NOW.getTime() / 1000) - 60;
for (let i = 0; i < 6; i++) {
  const st = buildStatement({ artifactId: 'img', artifactVersion: `v${i}`, artifactType: 'uki', sha384: `${i}`.repeat(96) });
  log.propose(intotoProposal(signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(st)), signer.privateKey), signer.publicKey.export({ type: 'spki', format: 'pem' }).toString()));
}
const entry = parseLogEntries(log.logEntry(3))[0] as RekorLogEntry;
const trust = parseTrustedRoot(log.trustedRootJson('https://rekor.local'));
const policy = { publicKey: signer.publicKey, artifactId: 'img', allowedVersions: ['v3'] };
type B = { verificationMaterial: { tlogEntries: Record<string, Record<string, unknown>>[] }; dsseEnvelope: { payload: string; signatures: { sig: string }[] } };
const bundle = (): B => entryToBundle(entry) as unknown as B;
const flip = (b64: string, at = 8) => {
  const b = Buffer.from(b64, 'base64');
  b.writeUInt8(b.readUInt8(at) ^ 1, at);
  return b.toString('base64');
};
const reason = (b: unknown, p: typeof policy = policy): string => {
  try {
    verifyReferenceBundle(typeof b === 'string' ? b : JSON.stringify(b), trust, p, NOW);
    return 'ok';
  } catch (e) {
    return e instanceof RefValuesError ? e.reason : `unexpected ${String(e)}`;
  }
};

describe('reference-value bundles', () => {
  it('verify, giving the digest, version and global log index', () => {
    const v = verifyReferenceBundle(JSON.stringify(bundle()), trust, policy, NOW);
    expect([v.sha384, v.version, v.logIndex, v.checkpoint.treeSize]).toEqual(['3'.repeat(96), 'v3', 1003, 6n]);
  });

  it('map each tampering to a distinct reason', () => {
    const t = (f: (b: B) => void) => {
      const b = bundle();
      f(b);
      return reason(b);
    };
    const tle = (b: B) => b.verificationMaterial.tlogEntries[0]!;
    const reasons = {
      set: t((b) => ((tle(b)['inclusionPromise'] as { signedEntryTimestamp: string }).signedEntryTimestamp = flip((tle(b)['inclusionPromise'] as { signedEntryTimestamp: string }).signedEntryTimestamp, 12))),
      proofHashes: t((b) => {
        const p = tle(b)['inclusionProof'] as { hashes: string[] };
        p.hashes[0] = flip(p.hashes[0]!, 3);
      }),
      checkpoint: t((b) => {
        const c = (tle(b)['inclusionProof'] as { checkpoint: { envelope: string } }).checkpoint;
        c.envelope = c.envelope.replace(/\u2014 (\S+) (\S+)\n/, (_m, n: string, s: string) => `\u2014 ${n} ${flip(s, 20)}\n`);
      }),
      dsseSignature: t((b) => (b.dsseEnvelope.signatures[0]!.sig = flip(b.dsseEnvelope.signatures[0]!.sig, 10))),
      subject: t((b) => (b.dsseEnvelope.payload = Buffer.from(Buffer.from(b.dsseEnvelope.payload, 'base64').toString().replace('"img"', '"imh"')).toString('base64'))),
      wrongKey: reason(bundle(), { ...policy, publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey }),
      version: reason(bundle(), { ...policy, allowedVersions: ['v4'] }),
      malformed: reason('{"mediaType": 1}'),
    };
    expect(reasons).toEqual({
      set: 'SetInvalid',
      proofHashes: 'InclusionProofInvalid',
      checkpoint: 'CheckpointInvalid',
      dsseSignature: 'BodyEnvelopeMismatch', // the logged signature no longer matches the envelope's
      subject: 'BodyEnvelopeMismatch', // the payload no longer matches the logged payloadHash
      wrongKey: 'SignatureInvalid',
      version: 'VersionNotAllowed',
      malformed: 'EntryMalformed',
    });
  });
});
