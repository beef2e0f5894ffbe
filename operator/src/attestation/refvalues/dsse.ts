// DSSE v1 envelopes (https://github.com/secure-systems-lab/dsse): sign and verify over the
// pre-authentication encoding, ECDSA P-256 with SHA-256 and DER signatures as cosign writes them.
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';

export interface DsseEnvelope {
  payloadType: string;
  payload: string; // base64
  signatures: { keyid: string; sig: string }[];
}

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export function signEnvelope(payloadType: string, payload: Buffer, privateKey: KeyObject): DsseEnvelope {
  const sig = cryptoSign('sha256', preAuthEncoding(payloadType, payload), privateKey).toString('base64');
  return { payloadType, payload: payload.toString('base64'), signatures: [{ keyid: '', sig }] };
}

/** True when `sigB64` is a valid signature by `publicKey` over PAE(payloadType, payload). Never throws. */
export function verifyEnvelopeSignature(payloadType: string, payload: Buffer, sigB64: string, publicKey: KeyObject): boolean {
  try {
    return cryptoVerify('sha256', preAuthEncoding(payloadType, payload), publicKey, Buffer.from(sigB64, 'base64'));
  } catch {
    return false;
  }
}
