// Domain services the reconcilers call: reference-value resolution, sealed-credential checks, and the
// attestation + release step. Built once per operator from its configuration.
import type { Logger } from 'pino';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { SealedCredential } from '../api/sealed-credential.ts';
import type { ReleaseStep } from '../controllers/agent/controller.ts';
import type { ReferenceValueResolver, ResolvedValues } from '../controllers/attestation-policy.ts';
import type { SealCheck } from '../controllers/sealed-credential.ts';
import type { Manager, SharedInformer } from '../runtime/manager.ts';
import type { OperatorConfig } from './config.ts';

export interface Services {
  resolveReferenceValues: ReferenceValueResolver;
  checkSealed: (credential: SealedCredential) => Promise<SealCheck>;
  release?: ReleaseStep;
  close(): Promise<void>;
}

export interface ServiceDeps {
  config: OperatorConfig;
  manager: Manager;
  agents: SharedInformer<ConfidentialAgent>;
  policies: SharedInformer<AttestationPolicy>;
  credentials: SharedInformer<SealedCredential>;
  logger: Logger;
}

/** Inline reference values, named as the appraisal matches them. */
export function inlineReferenceValues(policy: AttestationPolicy): ResolvedValues['values'] {
  const inline = policy.spec.tdx?.referenceValues?.inline;
  if (!inline) return [];
  const named: Array<[string, string[] | undefined]> = [
    ['mr_td', inline.mrtd],
    ['rtmr0', inline.rtmr0],
    ['rtmr1', inline.rtmr1],
    ['rtmr2', inline.rtmr2],
    ['rtmr3', inline.rtmr3],
    ['measurement.uki.SHA-384', inline.ukiSha384],
  ];
  return named.flatMap(([name, digests]) => (digests ?? []).map((d) => ({ name, digest: d.toLowerCase() })));
}

export async function buildServices(_deps: ServiceDeps): Promise<Services> {
  return {
    resolveReferenceValues: async (policy) => ({ ok: true, values: inlineReferenceValues(policy) }),
    checkSealed: async () => ({ ok: false, code: 'SealingKeyUnavailable', message: 'no sealing key is loaded', digest: '' }),
    close: async () => {},
  };
}
