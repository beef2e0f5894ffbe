// Rekor v2 (rekor-tiles) bundles for tests, as cosign v3 / sigstore-go write them when the signing config
// names a v2 log: the DSSE envelope is logged as a hashedrekord 0.0.2 entry over SHA-256(PAE), the entry has
// an inclusion proof with a signed checkpoint but no SET and integratedTime 0, and time comes from an
// RFC 3161 timestamp over the signature (a TSA from @sigstore/mock, a test double for the TSA service).
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { initializeTSA } from '@sigstore/mock';
import { MerkleTree } from './rekor-log/merkle-tree.ts';

const b64 = (b: ArrayBufferView) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const pae = (type: string, payload: Buffer) => Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);

export interface RekorV2Fixture {
  bundleJson: string;
  trustedRootJson: string;
}

export interface RekorV2Options {
  statement: Buffer;
  signingKey: { privateKey: KeyObject; publicKey: KeyObject };
  /** Other leaves already in the log, so the proof is not trivial. */
  earlierLeaves?: number;
  withTimestamp?: boolean;
}

export async function rekorV2Bundle(o: RekorV2Options): Promise<RekorV2Fixture> {
  const logKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const logSpki = logKeys.publicKey.export({ type: 'spki', format: 'der' });
  const logId = createHash('sha256').update(logSpki).digest();
  const host = 'log2026-test.rekor.example';
  const type = 'application/vnd.in-toto+json';
  const sig = sign('sha256', pae(type, o.statement), o.signingKey.privateKey);
  const signerDer = o.signingKey.publicKey.export({ type: 'spki', format: 'der' });
  const body = JSON.stringify({
    apiVersion: '0.0.2',
    kind: 'hashedrekord',
    spec: {
      hashedRekordV002: {
        data: { algorithm: 'SHA2_256', digest: b64(createHash('sha256').update(pae(type, o.statement)).digest()) },
        signature: { content: b64(sig), verifier: { publicKey: { rawBytes: b64(signerDer) }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' } },
      },
    },
  });
  const tree = new MerkleTree();
  for (let i = 0; i < (o.earlierLeaves ?? 5); i++) tree.append(Buffer.from(`earlier entry ${i}`));
  const index = tree.size;
  tree.append(Buffer.from(body));
  const size = tree.size;
  const note = `${host}\n${size}\n${tree.root(size).toString('base64')}\n`;
  const noteSig = sign('sha256', Buffer.from(note), logKeys.privateKey);
  const checkpoint = `${note}\n\u2014 ${host} ${b64(Buffer.concat([logId.subarray(0, 4), noteSig]))}\n`;

  const tsaKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // Whole seconds (a GeneralizedTime with a fraction is not accepted by @sigstore/core's DER time parser),
  // and after the mock's certificates' notBefore (their creation time).
  const tsa = await initializeTSA(tsaKeys, new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000));
  const timestamp = await tsa.timestamp({
    artifactHash: createHash('sha256').update(sig).digest(),
    hashAlgorithmOID: '2.16.840.1.101.3.4.2.1',
    nonce: 42,
    policyOID: '1.3.6.1.4.1.57264.2',
    certReq: false,
  });
  const bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      publicKey: { hint: b64(createHash('sha256').update(signerDer).digest()) },
      tlogEntries: [
        {
          logIndex: String(index),
          logId: { keyId: b64(logId) },
          kindVersion: { kind: 'hashedrekord', version: '0.0.2' },
          integratedTime: '0',
          inclusionProof: {
            logIndex: String(index),
            rootHash: b64(tree.root(size)),
            treeSize: String(size),
            hashes: tree.inclusionProof(index, size).map(b64),
            checkpoint: { envelope: checkpoint },
          },
          canonicalizedBody: b64(Buffer.from(body)),
        },
      ],
      timestampVerificationData: { rfc3161Timestamps: o.withTimestamp === false ? [] : [{ signedTimestamp: b64(timestamp) }] },
    },
    dsseEnvelope: { payload: b64(o.statement), payloadType: type, signatures: [{ sig: b64(sig), keyid: '' }] },
  };
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: `https://${host}`,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(logSpki), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2020-01-01T00:00:00Z' } },
        logId: { keyId: b64(logId) },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [
      {
        subject: { organization: 'test', commonName: 'test tsa' },
        uri: 'https://tsa.example/api/v1/timestamp',
        certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
        validFor: { start: '2020-01-01T00:00:00Z' },
      },
    ],
  };
  return { bundleJson: JSON.stringify(bundle), trustedRootJson: JSON.stringify(trustedRoot) };
}
