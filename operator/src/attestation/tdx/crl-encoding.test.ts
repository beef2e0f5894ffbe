// CRL bodies as Intel PCS and PCCS serve them: DER, PEM (64-character lines, trailing newline) and hex text of the
// DER. The PEM and hex forms are made here from a captured Root CA CRL, so every form must give back its bytes.
import { describe, expect, it } from 'vitest';
import { crlBytes } from './crl-encoding.ts';
import { readFixture } from '../../../test/fixtures/tdx/fixtures.ts';
import { tdxFailureText } from '../../../test/support/tdx-failure.ts';

const der = readFixture('v4-b0c06f000000-phala', 'collateral-2025-06', 'root_ca_crl.der');
const enc = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const b64Lines = Buffer.from(der).toString('base64').match(/.{1,64}/g)?.join('\n') ?? '';
const pem = `-----BEGIN X509 CRL-----\n${b64Lines}\n-----END X509 CRL-----\n`;
const hex = Buffer.from(der).toString('hex');

const failure = tdxFailureText;

describe('crlBytes', () => {
  it('passes DER through unchanged', () => {
    expect(crlBytes(der, 'Root CA CRL')).toBe(der);
  });
  it('decodes PEM with line breaks and surrounding whitespace to the same DER', () => {
    expect(Buffer.from(crlBytes(enc(pem), 'Root CA CRL')).equals(der)).toBe(true);
    expect(Buffer.from(crlBytes(enc(`\r\n  ${pem.replaceAll('\n', '\r\n')}  \r\n`), 'Root CA CRL')).equals(der)).toBe(true);
  });
  it('decodes hex text (either case, trailing newline) to the same DER', () => {
    expect(Buffer.from(crlBytes(enc(`${hex}\n`), 'Root CA CRL')).equals(der)).toBe(true);
    expect(Buffer.from(crlBytes(enc(hex.toUpperCase()), 'Root CA CRL')).equals(der)).toBe(true);
  });
  it('refuses PEM or hex with anything before or after it, odd-length hex, and other text, naming the CRL', () => {
    const refused = 'CrlMalformed: PCK CRL is neither DER, PEM nor hex';
    for (const [label, body] of [
      ['text before PEM', `junk ${pem}`],
      ['text after PEM', `${pem}junk`],
      ['PEM with a non-base64 character', pem.replace(b64Lines.slice(0, 4), 'AA!A')],
      ['text before hex', `zz${hex}`],
      ['text after hex', `${hex}zz`],
      ['odd-length hex', hex.slice(0, -1)],
      ['not hex', 'not a crl'],
    ] as const) {
      expect(failure(() => crlBytes(enc(body), 'PCK CRL')), label).toBe(refused);
    }
  });
});
