import { createHash, sign, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { H100_2023, failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { makeCert, makeOcspResponse, makeTestPki, type TestCert } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { buildOcspRequest, certIdFor, certIdKey, verifyOcspResponse, type OcspExpectation } from './ocsp.ts';
import { parsePemChain, type ParsedCert } from './x509-chain.ts';

// Pure verification of OCSP responses from the test PKI's responders (RFC 6960 layout, ECDSA-SHA384).
const pki = makeTestPki();
const parsed = (c: TestCert): ParsedCert => parsePemChain(c.pem, c.name)[0] as ParsedCert;
const at = new Date('2024-06-01T00:00:00Z');
const NONCE = new Uint8Array(32).fill(7);
const thisUpdate = new Date('2024-05-31T23:00:00Z');
const nextUpdate = new Date('2024-06-02T00:00:00Z');
const SHA384 = '2.16.840.1.101.3.4.2.2';
const NONCE_OID = '1.3.6.1.5.5.7.48.1.2';

const expectation = (o: Partial<OcspExpectation> = {}): OcspExpectation => ({
  id: certIdFor(parsed(pki.deviceProvisioner), parsed(pki.deviceIdentity)),
  nonce: NONCE,
  issuer: parsed(pki.deviceIdentity),
  root: parsed(pki.deviceRoot),
  kind: 'device',
  at,
  ...o,
});

interface Answer {
  responder?: TestCert;
  status?: 'good' | 'revoked' | 'unknown';
  thisUpdate?: Date;
  nextUpdate?: Date | null;
  signingKey?: KeyObject;
}

/** A response from a responder that answers the request built for `exp`. */
function answer(a: Answer = {}, exp = expectation()): Uint8Array {
  return makeOcspResponse({
    requestDer: buildOcspRequest(exp.id, exp.nonce),
    responder: a.responder ?? pki.deviceResponder,
    statusOf: () => a.status ?? 'good',
    thisUpdate: a.thisUpdate ?? thisUpdate,
    ...(a.nextUpdate === null ? {} : { nextUpdate: a.nextUpdate ?? nextUpdate }),
    ...(a.signingKey ? { signingKey: a.signingKey } : {}),
  });
}

/** Re-encodes a response after `edit` changes its basic response; re-signs with `key` when given. */
function rebuild(der: Uint8Array, edit: (b: pkijs.BasicOCSPResponse) => void, key?: KeyObject): Uint8Array {
  const response = pkijs.OCSPResponse.fromBER(der);
  const bytes = response.responseBytes as pkijs.ResponseBytes;
  const basic = pkijs.BasicOCSPResponse.fromBER(bytes.response.valueBlock.valueHexView);
  edit(basic);
  if (key) {
    const tbs = new Uint8Array(basic.tbsResponseData.toSchema(true).toBER(false));
    basic.tbsResponseData.tbsView = tbs;
    basic.signature = new asn1js.BitString({ valueHex: sign('sha384', tbs, key) });
  }
  bytes.response = new asn1js.OctetString({ valueHex: basic.toSchema().toBER(false) });
  return new Uint8Array(response.toSchema().toBER(false));
}
const resigned = (edit: (b: pkijs.BasicOCSPResponse) => void, a: Answer = {}): Uint8Array =>
  rebuild(answer(a), edit, (a.responder ?? pki.deviceResponder).key);

function invalid(der: Uint8Array, exp = expectation()): string {
  const err = failure(() => verifyOcspResponse(der, exp));
  expect(err.code).toBe('OcspResponseInvalid');
  return err.message;
}

describe('OCSP request and CertID (SHA-384, nonce)', () => {
  it('hashes the issuer subject DER and public key, and keeps the serial', () => {
    for (const [cert, issuer] of [
      [parsed(pki.deviceProvisioner), parsed(pki.deviceIdentity)],
      [...parsePemChain(H100_2023.chainPem, 'device').slice(1, 3)] as [ParsedCert, ParsedCert],
    ] as const) {
      const id = certIdFor(cert, issuer);
      const ref = pkijs.Certificate.fromBER(issuer.der);
      const sha = (b: ArrayBuffer | Uint8Array): string => createHash('sha384').update(new Uint8Array(b)).digest('hex');
      expect(Buffer.from(id.issuerNameHash).toString('hex')).toBe(sha(ref.subject.toSchema().toBER(false)));
      expect(Buffer.from(id.issuerKeyHash).toString('hex')).toBe(sha(ref.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView));
      expect(Buffer.from(id.serial).toString('hex')).toBe(Buffer.from(pkijs.Certificate.fromBER(cert.der).serialNumber.valueBlock.valueHexView).toString('hex'));
      expect(certIdKey(id)).toBe([id.issuerNameHash, id.issuerKeyHash, id.serial].map((b) => Buffer.from(b).toString('hex')).join(':'));
    }
  });

  it('builds one SHA-384 request with a non-critical nonce extension', () => {
    const id = expectation().id;
    const req = pkijs.OCSPRequest.fromBER(buildOcspRequest(id, NONCE));
    expect(req.tbsRequest.requestList).toHaveLength(1);
    const cert = req.tbsRequest.requestList[0]?.reqCert as pkijs.CertID;
    expect(cert.hashAlgorithm.algorithmId).toBe(SHA384);
    expect(cert.hashAlgorithm.algorithmParams).toBeInstanceOf(asn1js.Null);
    expect(Buffer.from(cert.issuerNameHash.valueBlock.valueHexView)).toEqual(Buffer.from(id.issuerNameHash));
    expect(Buffer.from(cert.issuerKeyHash.valueBlock.valueHexView)).toEqual(Buffer.from(id.issuerKeyHash));
    expect(Buffer.from(cert.serialNumber.valueBlock.valueHexView)).toEqual(Buffer.from(id.serial));
    const ext = req.tbsRequest.requestExtensions ?? [];
    expect(ext.map((e) => [e.extnID, e.critical])).toEqual([[NONCE_OID, false]]);
    expect(Buffer.from(ext[0]?.extnValue.valueBlock.valueHexView ?? [])).toEqual(Buffer.from(new asn1js.OctetString({ valueHex: NONCE }).toBER()));
  });
});

describe('OCSP response verification', () => {
  it('reads good, unknown and revoked (with time and reason), and the validity window', () => {
    expect(verifyOcspResponse(answer(), expectation())).toEqual({ status: 'good', thisUpdate, validUntil: nextUpdate });
    expect(verifyOcspResponse(answer({ status: 'unknown' }), expectation()).status).toBe('unknown');
    expect(verifyOcspResponse(answer({ status: 'revoked' }), expectation())).toEqual({
      status: 'revoked',
      revokedAt: new Date('2024-01-01T00:00:00Z'),
      reason: 1,
      thisUpdate,
      validUntil: nextUpdate,
    });
    // Without nextUpdate the answer is taken as valid for 24 h.
    expect(verifyOcspResponse(answer({ nextUpdate: null }), expectation()).validUntil).toEqual(new Date('2024-06-01T23:00:00Z'));
    // Revoked without a reason: no reason field.
    const bare = resigned((b) => {
      const single = b.tbsResponseData.responses[0] as pkijs.SingleResponse;
      single.certStatus = new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 1 }, value: [new asn1js.GeneralizedTime({ valueDate: at })] });
    });
    expect(verifyOcspResponse(bare, expectation())).toEqual({ status: 'revoked', revokedAt: at, thisUpdate, validUntil: nextUpdate });
    const noTime = resigned((b) => {
      (b.tbsResponseData.responses[0] as pkijs.SingleResponse).certStatus = new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 1 }, value: [] });
    });
    // RevokedInfo needs revocationTime: pkijs's schema refuses the response without it.
    expect(invalid(noTime)).toBe('OCSP response: not a DER OCSPResponse');
  });

  it('refuses certStatus outside the three context-tagged choices (pkijs already refuses the structure)', () => {
    const status = (s: asn1js.BaseBlock) => resigned((b) => ((b.tbsResponseData.responses[0] as pkijs.SingleResponse).certStatus = s));
    expect(invalid(status(new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 3 } })))).toBe('OCSP response: not a DER OCSPResponse');
    expect(invalid(status(new asn1js.Null()))).toBe('OCSP response: not a DER OCSPResponse');
  });

  it('refuses a response that is not a successful basic OCSPResponse', () => {
    expect(invalid(new Uint8Array([1, 2, 3]))).toBe('OCSP response: not a DER OCSPResponse');
    const status = (n: number) => new Uint8Array(new pkijs.OCSPResponse({ responseStatus: new asn1js.Enumerated({ value: n }) }).toSchema().toBER(false));
    expect(invalid(status(1))).toBe('OCSP response: responder status 1 (not successful)');
    expect(invalid(status(0))).toBe('OCSP response: not a basic OCSP response');
    const response = pkijs.OCSPResponse.fromBER(answer());
    (response.responseBytes as pkijs.ResponseBytes).responseType = '1.3.6.1.5.5.7.48.1.3';
    expect(invalid(new Uint8Array(response.toSchema().toBER(false)))).toBe('OCSP response: not a basic OCSP response');
  });

  it('accepts the listed signature algorithms only, and only a signature by the issuer or an embedded certificate', () => {
    const alg = rebuild(answer(), (b) => (b.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.10045.4.1' })));
    expect(invalid(alg)).toBe('OCSP response: signature algorithm 1.2.840.10045.4.1 is not supported');
    // The same bytes under another listed ECDSA hash no longer verify.
    const sha256 = rebuild(answer(), (b) => (b.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.10045.4.3.2' })));
    expect(invalid(sha256)).toBe('OCSP response: signature does not verify with the issuer or any embedded responder certificate');
    expect(invalid(answer({ signingKey: makeCert({ cn: 'Evil' }).key }))).toBe(
      'OCSP response: signature does not verify with the issuer or any embedded responder certificate',
    );
    // Signed by the issuing CA without embedding it.
    const byIssuer = rebuild(answer({ responder: pki.deviceIdentity }), (b) => delete b.certs);
    expect(verifyOcspResponse(byIssuer, expectation()).status).toBe('good');
    // Signed by the responder, whose certificate is not embedded.
    expect(invalid(rebuild(answer(), (b) => delete b.certs))).toBe(
      'OCSP response: signature does not verify with the issuer or any embedded responder certificate',
    );
  });

  it('authorizes a responder with OCSPSigning issued by the CA or chaining to the pinned root, nothing else', () => {
    const eku = ['1.3.6.1.5.5.7.3.9'];
    const delegated = makeCert({ cn: 'Identity-issued responder', issuer: pki.deviceIdentity, ca: false, eku });
    expect(verifyOcspResponse(answer({ responder: delegated }), expectation()).status).toBe('good');
    const noEku = makeCert({ cn: 'No EKU', issuer: pki.deviceRoot, ca: false });
    expect(invalid(answer({ responder: noEku }))).toBe("OCSP response: responder 'No EKU' lacks the OCSPSigning extended key usage");
    const otherEku = makeCert({ cn: 'Server EKU', issuer: pki.deviceRoot, ca: false, eku: ['1.3.6.1.5.5.7.3.1'] });
    expect(invalid(answer({ responder: otherEku }))).toBe("OCSP response: responder 'Server EKU' lacks the OCSPSigning extended key usage");
    const foreign = makeCert({ cn: 'Foreign responder', ca: false, eku });
    expect(invalid(answer({ responder: foreign }))).toMatch(/^OCSP response: responder certificate 'Foreign responder' is not trusted \(.+\)$/);
    // Under the RIM root: the device responder is foreign there.
    const rimExp = expectation({ id: certIdFor(parsed(pki.rimSigner), parsed(pki.rimCa)), issuer: parsed(pki.rimCa), root: parsed(pki.rimRoot), kind: 'rim' });
    expect(invalid(answer({}, rimExp), rimExp)).toMatch(/^OCSP response: responder certificate 'Test Device OCSP Responder' is not trusted/);
    expect(verifyOcspResponse(answer({ responder: pki.rimResponder }, rimExp), rimExp).status).toBe('good');
    // An expired responder certificate is not trusted at `at`.
    const old = makeCert({ cn: 'Expired responder', issuer: pki.deviceRoot, ca: false, eku, notAfter: new Date('2024-01-01T00:00:00Z') });
    expect(invalid(answer({ responder: old }))).toMatch(/^OCSP response: responder certificate 'Expired responder' is not trusted/);
  });

  it('needs the nonce it sent, wrapped in an OCTET STRING or raw', () => {
    const ext = (value: ArrayBuffer) => (b: pkijs.BasicOCSPResponse) => {
      b.tbsResponseData.responseExtensions = [new pkijs.Extension({ extnID: NONCE_OID, extnValue: value })];
    };
    expect(verifyOcspResponse(resigned(ext(NONCE.slice().buffer)), expectation()).status).toBe('good');
    expect(invalid(resigned(ext(new asn1js.OctetString({ valueHex: new Uint8Array(32) }).toBER())))).toBe(
      'OCSP response: nonce does not match the request (replayed response?)',
    );
    expect(invalid(resigned(ext(new Uint8Array(32).buffer)))).toBe('OCSP response: nonce does not match the request (replayed response?)');
    expect(invalid(resigned((b) => delete b.tbsResponseData.responseExtensions))).toBe('OCSP response: the nonce extension is missing');
    const other = (b: pkijs.BasicOCSPResponse) => {
      b.tbsResponseData.responseExtensions = [new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.48.1.9', extnValue: NONCE.slice().buffer })];
    };
    expect(invalid(resigned(other))).toBe('OCSP response: the nonce extension is missing');
  });

  it('needs a SingleResponse for exactly the requested SHA-384 CertID', () => {
    const noAnswer = 'OCSP response: no SingleResponse for the requested SHA-384 CertID';
    const id = expectation().id;
    const flip = (b: Uint8Array): Uint8Array => Uint8Array.from(b, (x, i) => (i === 0 ? x ^ 1 : x));
    expect(invalid(answer(), expectation({ id: { ...id, serial: flip(id.serial) } }))).toBe(noAnswer);
    expect(invalid(answer(), expectation({ id: { ...id, issuerNameHash: flip(id.issuerNameHash) } }))).toBe(noAnswer);
    expect(invalid(answer(), expectation({ id: { ...id, issuerKeyHash: flip(id.issuerKeyHash) } }))).toBe(noAnswer);
    const sha1 = resigned((b) => {
      const single = b.tbsResponseData.responses[0] as pkijs.SingleResponse;
      single.certID.hashAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: '1.3.14.3.2.26', algorithmParams: new asn1js.Null() });
    });
    expect(invalid(sha1)).toBe(noAnswer);
  });

  it('allows five minutes of clock skew on thisUpdate and on expiry', () => {
    const min = 60_000;
    const t = (ms: number) => new Date(at.getTime() + ms);
    expect(verifyOcspResponse(answer({ thisUpdate: t(5 * min), nextUpdate: t(60 * min) }), expectation()).status).toBe('good');
    expect(invalid(answer({ thisUpdate: t(5 * min + 1000), nextUpdate: t(60 * min) }))).toBe(`OCSP response: thisUpdate ${t(5 * min + 1000).toISOString()} is in the future`);
    expect(verifyOcspResponse(answer({ thisUpdate: t(-60 * min), nextUpdate: t(-5 * min) }), expectation()).status).toBe('good');
    expect(invalid(answer({ thisUpdate: t(-60 * min), nextUpdate: t(-5 * min - 1000) }))).toBe(`OCSP response: response expired at ${t(-5 * min - 1000).toISOString()}`);
    expect(invalid(answer({ thisUpdate: t(-25 * 60 * min), nextUpdate: null }))).toBe(`OCSP response: response expired at ${t(-60 * min).toISOString()}`);
  });
});

describe('OCSP: v1 certificates, extra embedded certificates and unparsable ones', () => {
  /** A version-1 certificate (no [0] version field, no extensions), self-signed, P-384. */
  function v1Cert(cn: string): TestCert {
    const t = makeCert({ cn, keyUsage: null });
    const cert = pkijs.Certificate.fromBER(t.der);
    cert.version = 0;
    delete cert.extensions;
    const tbs = new Uint8Array(cert.encodeTBS().toBER(false));
    cert.signatureValue = new asn1js.BitString({ valueHex: sign('sha384', tbs, t.key) });
    const der = new Uint8Array(cert.toSchema(true).toBER(false));
    return { ...t, der, pem: `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE-----\n` };
  }

  it('hashes the subject of a version-1 issuer (no version field) correctly', () => {
    const issuer = parsed(v1Cert('V1 issuer'));
    expect(pkijs.Certificate.fromBER(issuer.der).version).toBe(0);
    const id = certIdFor(parsed(pki.deviceProvisioner), issuer);
    const subject = pkijs.Certificate.fromBER(issuer.der).subject.toSchema().toBER(false);
    expect(Buffer.from(id.issuerNameHash).toString('hex')).toBe(createHash('sha384').update(new Uint8Array(subject)).digest('hex'));
  });

  it('refuses a responder certificate without extensions as lacking OCSPSigning', () => {
    const v1 = v1Cert('V1 responder');
    expect(invalid(answer({ responder: v1 }))).toBe("OCSP response: responder 'V1 responder' lacks the OCSPSigning extended key usage");
  });

  it('builds the responder path through the issuer, skipping unrelated embedded certificates', () => {
    const delegated = makeCert({ cn: 'Delegated responder', issuer: pki.deviceIdentity, ca: false, eku: ['1.3.6.1.5.5.7.3.9'] });
    const unrelated = makeCert({ cn: 'Unrelated', issuer: pki.deviceRoot, ca: true });
    const der = rebuild(answer({ responder: delegated }), (b) => {
      b.certs = [...(b.certs ?? []), pkijs.Certificate.fromBER(unrelated.der)];
    });
    expect(verifyOcspResponse(der, expectation()).status).toBe('good');
  });

  it('refuses an embedded certificate that does not parse as X.509 (an invalid public key point)', () => {
    const broken = pkijs.Certificate.fromBER(pki.deviceResponder.der);
    broken.subjectPublicKeyInfo.subjectPublicKey = new asn1js.BitString({ valueHex: Uint8Array.from([4, ...new Uint8Array(96).fill(1)]) });
    const der = rebuild(answer(), (b) => {
      b.certs = [pkijs.Certificate.fromBER(broken.toSchema(true).toBER(false))];
    });
    expect(invalid(der)).toBe('OCSP response: embedded responder certificate does not parse');
  });
});
