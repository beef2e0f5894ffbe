// npm run bench:rekor — Rekor reference-value entries verified per second on one core (SET + checkpoint
// signature + RFC 6962 inclusion proof + DSSE signature + statement policy), next to raw P-256 verifies/s
// measured in the same run, and the @sigstore/verify bundle path for the same entries. Target: >= 1,000/s.
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from '../src/attestation/refvalues/dsse.ts';
import { parseLogEntries, type RekorLogEntry } from '../src/attestation/refvalues/log-entry.ts';
import { intotoProposal } from '../src/attestation/refvalues/publish.ts';
import { entryToBundle, verifyReferenceBundle } from '../src/attestation/refvalues/reference-bundle.ts';
import { buildStatement } from '../src/attestation/refvalues/statement.ts';
import { parseTrustedRoot } from '../src/attestation/refvalues/trust.ts';
import { verifyRekorEntry } from '../src/attestation/refvalues/verify-entry.ts';
import { RekorLogState } from '../test/support/rekor-log/log-state.ts';

const ENTRIES = 1024;
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const NOW = new Date();

function rate(label: string, fn: (i: number) => void): number {
  for (let i = 0; i < 200; i++) fn(i); // warm-up
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < end) {
    for (let k = 0; k < 50; k++) fn(n++);
  }
  const perSec = n / (Number(process.hrtime.bigint() - start) / 1e9);
  console.log(`${label.padEnd(58)} ${perSec.toFixed(0).padStart(8)} /s`);
  return perSec;
}

const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pub = signer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const log = new RekorLogState();
log.now = () => Math.floor(NOW.getTime() / 1000) - 60;
for (let i = 0; i < ENTRIES; i++) {
  const st = buildStatement({ artifactId: 'cai-openclaw-vllm-prod', artifactVersion: `v${i}`, artifactType: 'uki', sha384: i.toString(16).padStart(96, '0') });
  log.propose(intotoProposal(signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(st)), signer.privateKey), pub));
}
// Batch: all entries fetched at one tree size share a checkpoint (what a resolver sees).
const entries: RekorLogEntry[] = log.entries.map((_, i) => parseLogEntries(log.logEntry(i))[0] as RekorLogEntry);
// Worst case: every entry carries a different checkpoint (proof at tree size i+1), so no memo helps.
const distinct: RekorLogEntry[] = log.entries.map((_, i) => {
  const e = parseLogEntries(log.logEntry(i))[0] as RekorLogEntry;
  const p = e.verification!.inclusionProof!;
  const size = i + 1;
  Object.assign(p, { treeSize: size, rootHash: log.tree.root(size).toString('hex'), hashes: log.tree.inclusionProof(i, size).map((h) => h.toString('hex')), checkpoint: log.checkpoint(size) });
  return e;
});
const trust = parseTrustedRoot(log.trustedRootJson('https://rekor.local'));
const versions = entries.map((_, i) => `v${i}`);
const policies = entries.map((_, i) => ({ publicKey: signer.publicKey, artifactId: 'cai-openclaw-vllm-prod', allowedVersions: [versions[i] as string] }));
const bundles = entries.map((e) => JSON.stringify(entryToBundle(e)));

const msg = Buffer.from('reference-value benchmark message');
const sig = sign('sha256', msg, signer.privateKey);
console.log(`Rekor entry verification, ${ENTRIES} entries in a ${ENTRIES}-leaf RFC 6962 tree, ${SECONDS}s per row, one core`);
const raw = rate('raw ECDSA P-256 verify (node:crypto, reference)', () => void verify('sha256', msg, signer.publicKey, sig));
const worst = rate('verifyRekorEntry, distinct checkpoints (3 ECDSA verifies each)', (i) => void verifyRekorEntry(distinct[i % ENTRIES] as RekorLogEntry, trust, policies[i % ENTRIES]!, NOW));
const batch = rate('verifyRekorEntry, batch sharing a checkpoint (2 + memo hit)', (i) => void verifyRekorEntry(entries[i % ENTRIES] as RekorLogEntry, trust, policies[i % ENTRIES]!, NOW));
const sj = rate('verifyReferenceBundle (@sigstore/verify bundle path)', (i) => void verifyReferenceBundle(bundles[i % ENTRIES] as string, trust, policies[i % ENTRIES]!, NOW));
const raw2 = rate('raw ECDSA P-256 verify again (load drift check)', () => void verify('sha256', msg, signer.publicKey, sig));
const ref = (raw + raw2) / 2;
console.log(`\nentries/s (SET + inclusion + DSSE, worst case) = ${worst.toFixed(0)}; batch = ${batch.toFixed(0)}; bundle path = ${sj.toFixed(0)}`);
console.log(`raw P-256 verifies/s = ${ref.toFixed(0)} -> worst case costs ${(ref / worst).toFixed(1)} raw verifies per entry (3 signatures checked)`);
console.log(`target >= 1000 entries/s on one core: batch ${batch >= 1000 ? 'MET' : 'NOT MET'}, worst case ${worst >= 1000 ? 'MET' : 'NOT MET'}`);
console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${availableParallelism()} cores (other processes share them)`);
