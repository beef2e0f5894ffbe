// The quote's PCK chain against captured Intel collateral: the real three-certificate chain, and the same
// certificates in a chain of the wrong length or a bundle that is not PEM.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { verifyPckChain } from './pck.ts';
import { parseTdxQuote } from './quote.ts';
import { parsePemChain } from './x509.ts';
import type { Cert } from './x509.ts';
import { verifyCollateral } from './collateral.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import { INTEL_SGX_ROOT_CA_PEM } from './intel-root-ca.ts';
import { TDX_FIXTURES, readFixture } from '../../../test/fixtures/tdx/fixtures.ts';
import { tdxFailureText } from '../../../test/support/tdx-failure.ts';

const SET = 'v4-b0c06f000000-phala';
const pem = parseTdxQuote(readFixture(SET, 'quote.bin')).pckChainPem;
const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
const collateral = async () => verifyCollateral(await loadCollateralDir(join(TDX_FIXTURES, SET, 'collateral-2025-06')), parsePemChain(INTEL_SGX_ROOT_CA_PEM, 'root')[0] as Cert);

const failure = tdxFailureText;

describe('verifyPckChain', () => {
  it('verifies the captured leaf → PCK Platform CA → Intel root chain and reads its SGX extension', async () => {
    const v = verifyPckChain(pem, await collateral());
    expect([v.leaf.subjectCn, v.caType, Buffer.from(v.extension.fmspc).toString('hex'), v.windows.length]).toEqual(['Intel SGX PCK Certificate', 'platform', 'b0c06f000000', 3]);
  });

  it('needs exactly leaf, PCK CA and root', async () => {
    const c = await collateral();
    expect(blocks.length).toBe(3);
    expect(failure(() => verifyPckChain(blocks.slice(0, 2).join('\n'), c))).toBe('CertificateChainInvalid: PCK certificate chain has 2 certificates; expected leaf, PCK CA and root');
    expect(failure(() => verifyPckChain([...blocks, blocks[2]].join('\n'), c))).toBe('CertificateChainInvalid: PCK certificate chain has 4 certificates; expected leaf, PCK CA and root');
  });

  it('names the PCK chain when the bundle is not PEM', async () => {
    const c = await collateral();
    expect(failure(() => verifyPckChain('not pem', c))).toBe('CertificateMalformed: PCK certificate chain is not a PEM certificate list');
  });
});
