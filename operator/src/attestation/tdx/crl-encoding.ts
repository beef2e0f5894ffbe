// CRLs arrive as DER (Intel PCS with encoding=der), PEM (PCS default) or hex text of DER (PCCS /rootcacrl).
import { TdxError } from './errors.ts';

export function crlBytes(body: Uint8Array, what: string): Uint8Array {
  if (body[0] === 0x30) return body;
  const text = Buffer.from(body).toString('latin1').trim();
  const pem = /^-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----$/.exec(text);
  if (pem?.[1]) return new Uint8Array(Buffer.from(pem[1].replace(/\s+/g, ''), 'base64'));
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  throw new TdxError('CrlMalformed', `${what} is neither DER, PEM nor hex`);
}
