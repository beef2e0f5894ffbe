// The quote's PCK certificate chain: leaf "Intel SGX PCK Certificate" → PCK Platform/Processor CA → pinned
// root, with the intermediate checked against the Root CA CRL and the leaf against the PCK CRL of its CA.
import { TdxError } from './errors.ts';
import { bytesEqual } from './bytes.ts';
import { checkChain, createCertScope, parsePemChain } from './x509.ts';
import type { Cert, CertScope, ValidityWindow } from './x509.ts';
import { parsePckExtension } from './pck-extension.ts';
import type { PckExtension } from './pck-extension.ts';
import type { VerifiedCollateral } from './collateral.ts';

export interface VerifiedPck {
  leaf: Cert;
  caType: 'platform' | 'processor';
  extension: PckExtension;
  windows: ValidityWindow[];
}

export function verifyPckChain(pem: string, collateral: VerifiedCollateral, scope: CertScope = createCertScope()): VerifiedPck {
  const chain = parsePemChain(pem, 'PCK certificate chain', scope);
  if (chain.length !== 3) throw new TdxError('CertificateChainInvalid', `PCK certificate chain has ${chain.length} certificates; expected leaf, PCK CA and root`);
  const [leaf, ca, root] = chain as [Cert, Cert, Cert];
  if (!bytesEqual(root.der, collateral.root.der)) throw new TdxError('RootCaMismatch', 'PCK certificate chain does not end in the pinned Intel SGX Root CA');
  if (leaf.subjectCn !== 'Intel SGX PCK Certificate') {
    throw new TdxError('CertificateChainInvalid', `PCK leaf subject CN is "${leaf.subjectCn}", expected "Intel SGX PCK Certificate"`);
  }
  let caType: 'platform' | 'processor';
  if (ca.subjectCn === 'Intel SGX PCK Platform CA') caType = 'platform';
  else if (ca.subjectCn === 'Intel SGX PCK Processor CA') caType = 'processor';
  else throw new TdxError('CertificateChainInvalid', `PCK intermediate subject CN is "${ca.subjectCn}", not a PCK Platform/Processor CA`);
  if (!bytesEqual(collateral.pckCrl.issuerDer, ca.subjectDer) || !ca.publicKey.equals(collateral.pckCrlIssuer.publicKey)) {
    throw new TdxError('CrlIssuerMismatch', `the PCK CRL in the collateral was not issued by "${ca.subjectCn}" (fetch the ${caType} CRL)`);
  }
  const checked = checkChain(chain, collateral.root, 'PCK certificate chain', (issuer) => {
    if (issuer === root) return collateral.rootCaCrl;
    if (issuer === ca) return collateral.pckCrl;
    return undefined;
  }, scope);
  return { leaf, caType, extension: parsePckExtension(leaf), windows: checked.windows };
}
