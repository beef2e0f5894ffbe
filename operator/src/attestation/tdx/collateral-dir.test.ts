// loadCollateralDir on copies of a real collateral folder: the DER/PEM alternatives, a missing file named, a file
// that cannot be read reported as such (not as missing), and an undecodable CRL named.
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from './collateral-dir.ts';

const src = join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06');
const scratch = mkdtempSync(join(tmpdir(), 'tdx-collateral-dir-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
/** A copy of the fixture folder with `edit` applied. */
function copy(edit: (dir: string) => void = () => undefined): string {
  const dir = join(scratch, String(n++));
  cpSync(src, dir, { recursive: true });
  edit(dir);
  return dir;
}
const pem = (der: Buffer) => `-----BEGIN X509 CRL-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`;

describe('loadCollateralDir', () => {
  it('loads the PCS files, using the TCB Info chain for the QE Identity when it has none of its own', async () => {
    const c = await loadCollateralDir(copy());
    expect(Buffer.from(c.tcbInfoBody)).toEqual(readFileSync(join(src, 'tcb_info.json')));
    expect(Buffer.from(c.pckCrl)).toEqual(readFileSync(join(src, 'pck_crl.der')));
    expect(Buffer.from(c.rootCaCrl)).toEqual(readFileSync(join(src, 'root_ca_crl.der')));
    expect(c.qeIdentityIssuerChain).toBe(c.tcbInfoIssuerChain);
  });

  it('takes pck_crl.pem and root_ca_crl.pem when the .der files are absent', async () => {
    const dir = copy((d) => {
      for (const name of ['pck_crl', 'root_ca_crl']) {
        writeFileSync(join(d, `${name}.pem`), pem(readFileSync(join(d, `${name}.der`))));
        rmSync(join(d, `${name}.der`));
      }
    });
    const c = await loadCollateralDir(dir);
    expect(Buffer.from(c.pckCrl)).toEqual(readFileSync(join(src, 'pck_crl.der')));
    expect(Buffer.from(c.rootCaCrl)).toEqual(readFileSync(join(src, 'root_ca_crl.der')));
  });

  it('names the missing file and its alternatives', async () => {
    const dir = copy((d) => rmSync(join(d, 'pck_crl.der')));
    await expect(loadCollateralDir(dir)).rejects.toMatchObject({ code: 'CollateralUnavailable', message: `collateral directory ${dir} has no pck_crl.der or pck_crl.pem` });
  });

  it('a file that exists but cannot be read is not treated as missing', async () => {
    const dir = copy((d) => {
      rmSync(join(d, 'tcb_info.json'));
      mkdirSync(join(d, 'tcb_info.json'));
    });
    await expect(loadCollateralDir(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('names the CRL that is neither DER, PEM nor hex', async () => {
    await expect(loadCollateralDir(copy((d) => writeFileSync(join(d, 'pck_crl.der'), 'not a CRL')))).rejects.toMatchObject({ code: 'CrlMalformed', message: 'PCK CRL is neither DER, PEM nor hex' });
    await expect(loadCollateralDir(copy((d) => writeFileSync(join(d, 'root_ca_crl.der'), 'not a CRL')))).rejects.toMatchObject({ code: 'CrlMalformed', message: 'Root CA CRL is neither DER, PEM nor hex' });
  });
});
