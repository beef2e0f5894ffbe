// Loads collateral saved as PCS files in a directory (the `--collateral DIR` layout):
// tcb_info.json, tcb_info_issuer_chain.pem, qe_identity.json, [qe_identity_issuer_chain.pem],
// pck_crl.der (or .pem), pck_crl_issuer_chain.pem, root_ca_crl.der (or .pem / hex).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TdxError } from './errors.ts';
import type { TdxCollateral } from './collateral.ts';
import { crlBytes } from './crl-encoding.ts';

async function maybeRead(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function need(dir: string, names: string[]): Promise<Uint8Array> {
  for (const name of names) {
    const data = await maybeRead(join(dir, name));
    if (data) return data;
  }
  throw new TdxError('CollateralUnavailable', `collateral directory ${dir} has no ${names.join(' or ')}`);
}

export async function loadCollateralDir(dir: string): Promise<TdxCollateral> {
  const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
  const tcbChain = text(await need(dir, ['tcb_info_issuer_chain.pem']));
  const qeChain = await maybeRead(join(dir, 'qe_identity_issuer_chain.pem'));
  return {
    tcbInfoBody: await need(dir, ['tcb_info.json']),
    tcbInfoIssuerChain: tcbChain,
    qeIdentityBody: await need(dir, ['qe_identity.json']),
    qeIdentityIssuerChain: qeChain ? text(qeChain) : tcbChain,
    pckCrl: crlBytes(await need(dir, ['pck_crl.der', 'pck_crl.pem']), 'PCK CRL'),
    pckCrlIssuerChain: text(await need(dir, ['pck_crl_issuer_chain.pem'])),
    rootCaCrl: crlBytes(await need(dir, ['root_ca_crl.der', 'root_ca_crl.pem']), 'Root CA CRL'),
  };
}
