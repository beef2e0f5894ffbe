// Pure release decision over plain lists (the lead feeds them from informer caches): which SealedCredential
// sits at the requested path, which ConfidentialAgent this requester is and whether it references the
// credential within its scope, whether the agent's AttestationPolicy accepts the verified evidence, and
// finally whether the operator keyring opens the ciphertext for that scope.
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';
import { appraise, releaseDecision, type Appraisal } from '../../attestation/policy/appraise.ts';
import type { ReferenceValue } from '../../attestation/policy/reference-values.ts';
import type { VerifiedEvidence } from '../../attestation/verifier.ts';
import { createHash } from 'node:crypto';
import { scopeBytes, unseal, type SealScope, type UnsealResult } from '../sealing/envelope.ts';
import type { SealingKeyring } from '../sealing/keyring.ts';
import type { AttestedRequester, Entitlements, PolicyContext, PolicyQuery } from './types.ts';

export interface CredentialRecord {
  namespace: string;
  name: string;
  resourcePath: string;
  scope: { mode: 'Strict' | 'NamespaceWide'; agents: string[] };
  encryptedData: string;
}

export interface AgentIdentity {
  /** Address the instance reaches the operator from (provider-reported). */
  peerAddress?: string;
  /** Hex digest of the init-data the instance was launched with (bound to MRCONFIGID on TDX). */
  initDataDigest?: string;
}

export interface AgentRecord {
  namespace: string;
  name: string;
  policyName: string;
  credentials: string[];
  identity?: AgentIdentity;
}

export interface PolicyRecord {
  namespace: string;
  name: string;
  spec: AttestationPolicySpec;
  referenceValues: ReferenceValue[];
}

export interface ReleaseRequest {
  resourcePath: string;
  verified: VerifiedEvidence[];
  peerAddress?: string;
  initDataDigest?: string;
}

export type ReleaseRefusal =
  | 'ResourceNotFound'
  | 'NotEntitled'
  | 'IdentityMismatch'
  | 'PolicyNotFound'
  | 'SampleTeeNotAllowed'
  | 'AppraisalBelowMinimum'
  | 'SandboxPolicyMismatch'
  | 'WrongKey'
  | 'Tampered'
  | 'ScopeMismatch'
  | 'Malformed';

export type ReleaseDecision =
  | { ok: true; plaintext: Buffer; credential: string; agent: string; appraisal: Appraisal; credentialDigest: string }
  | { ok: false; code: ReleaseRefusal; reason: string; agent?: string };

const STAGE: Record<ReleaseRefusal, number> = {
  ResourceNotFound: 0,
  IdentityMismatch: 1,
  NotEntitled: 2,
  PolicyNotFound: 3,
  SampleTeeNotAllowed: 4,
  AppraisalBelowMinimum: 4,
  SandboxPolicyMismatch: 4,
  WrongKey: 5,
  Tampered: 5,
  ScopeMismatch: 5,
  Malformed: 5,
};

export function normalizeAddress(a: string | undefined): string | undefined {
  return a?.replace(/^::ffff:/, '');
}

function identityMatches(agent: AgentRecord, req: ReleaseRequest): string | undefined {
  const id = agent.identity;
  if (!id || (id.peerAddress === undefined && id.initDataDigest === undefined)) return `agent ${agent.namespace}/${agent.name} has no recorded instance identity yet`;
  if (id.peerAddress !== undefined && normalizeAddress(id.peerAddress) !== normalizeAddress(req.peerAddress)) return `requester address is not agent ${agent.namespace}/${agent.name}'s instance`;
  if (id.initDataDigest !== undefined && id.initDataDigest.toLowerCase() !== req.initDataDigest?.toLowerCase()) return `requester init-data is not agent ${agent.namespace}/${agent.name}'s`;
  return undefined;
}

export interface ReleaseInputs {
  request: ReleaseRequest;
  credentials: CredentialRecord[];
  agents: AgentRecord[];
  policies: PolicyRecord[];
  keyring: SealingKeyring;
  at: Date;
  /** Defaults to `unseal`; the KBS adapter passes a memoizing one (P-384 ECDH per request is the hot spot). */
  unseal?: (envelope: string, keyring: SealingKeyring, scope: SealScope) => UnsealResult;
}

export function decideRelease(inputs: ReleaseInputs): ReleaseDecision {
  const { request, keyring, at } = inputs;
  let refusal: { code: ReleaseRefusal; reason: string; agent?: string } = { code: 'ResourceNotFound', reason: `no SealedCredential has resourcePath ${request.resourcePath}` };
  const refuse = (code: ReleaseRefusal, reason: string, agent?: string) => {
    if (STAGE[code] >= STAGE[refusal.code]) refusal = { code, reason, ...(agent ? { agent } : {}) };
  };
  for (const cred of inputs.credentials.filter((c) => c.resourcePath === request.resourcePath)) {
    const credName = `${cred.namespace}/${cred.name}`;
    const referencing = inputs.agents.filter((a) => a.namespace === cred.namespace && a.credentials.includes(cred.name));
    if (referencing.length === 0) refuse('NotEntitled', `no ConfidentialAgent in ${cred.namespace} references SealedCredential ${cred.name}`);
    for (const agent of referencing) {
      const agentName = `${agent.namespace}/${agent.name}`;
      const mismatch = identityMatches(agent, request);
      if (mismatch) {
        refuse('IdentityMismatch', mismatch, agentName);
        continue;
      }
      if (cred.scope.agents.length > 0 && !cred.scope.agents.includes(agent.name)) {
        refuse('NotEntitled', `SealedCredential ${credName} scope does not include agent ${agent.name}`, agentName);
        continue;
      }
      const policy = inputs.policies.find((p) => p.namespace === agent.namespace && p.name === agent.policyName);
      if (!policy) {
        refuse('PolicyNotFound', `AttestationPolicy ${agent.namespace}/${agent.policyName} of agent ${agent.name} does not exist`, agentName);
        continue;
      }
      const appraisal = appraise(request.verified, policy.spec, policy.referenceValues, at);
      const gate = releaseDecision(appraisal, policy.spec);
      if (!gate.ok) {
        refuse(gate.code as ReleaseRefusal, `agent ${agentName}: ${gate.message}`, agentName);
        continue;
      }
      const opened = (inputs.unseal ?? unseal)(cred.encryptedData, keyring, { namespace: cred.namespace, name: cred.name, mode: cred.scope.mode, agents: cred.scope.agents, resourcePath: cred.resourcePath });
      if (!opened.ok) {
        refuse(opened.code, `SealedCredential ${credName}: ${opened.message}`, agentName);
        continue;
      }
      // Which sealed value went out (hex SHA-256 of the envelope, as status.credentials records it): a receipt
      // read after a rotation must not pass for a delivery of the new value.
      const credentialDigest = createHash('sha256').update(cred.encryptedData).digest('hex');
      return { ok: true, plaintext: opened.plaintext, credential: credName, agent: agentName, appraisal, credentialDigest };
    }
  }
  return { ok: false, ...refusal };
}

/**
 * Memoizes successful unseals (keyed by SHA-256 of envelope + scope), bounded LRU. The plaintext is held in
 * this process's memory only, which the KBS needs anyway to serve it; failures are never cached.
 */
export function memoizedUnseal(max = 1024): NonNullable<ReleaseInputs['unseal']> {
  const cache = new Map<string, UnsealResult>();
  return (envelope, keyring, scope) => {
    const key = createHash('sha256').update(envelope).update('\0').update(scopeBytes(scope)).digest('hex');
    const hit = cache.get(key);
    if (hit?.ok && keyring.find(hit.keyId)) {
      cache.delete(key);
      cache.set(key, hit);
      return { ...hit, plaintext: Buffer.from(hit.plaintext) };
    }
    const r = unseal(envelope, keyring, scope);
    if (r.ok) {
      cache.set(key, { ...r, plaintext: Buffer.from(r.plaintext) });
      if (cache.size > max) cache.delete(cache.keys().next().value!);
    }
    return r;
  };
}

/** Adapts decideRelease to the KBS server's Entitlements hook over live snapshots (e.g. informer caches). */
export function entitlementsFromLists(source: {
  snapshot(): { credentials: CredentialRecord[]; agents: AgentRecord[]; policies: PolicyRecord[] };
  keyring(): SealingKeyring;
  now?: () => Date;
}): Entitlements {
  const cachedUnseal = memoizedUnseal();
  return {
    authorize(resourcePath: string, attested: AttestedRequester) {
      const lists = source.snapshot();
      const d = decideRelease({
        request: { resourcePath, verified: attested.verified, peerAddress: attested.peerAddress, ...(attested.initDataDigest ? { initDataDigest: attested.initDataDigest } : {}) },
        ...lists,
        keyring: source.keyring(),
        at: source.now?.() ?? new Date(),
        unseal: cachedUnseal,
      });
      return Promise.resolve(d.ok ? { ok: true, plaintext: d.plaintext, credential: d.credential, agent: d.agent, credentialDigest: d.credentialDigest } : { ok: false, code: d.code, reason: d.reason, ...(d.agent ? { agent: d.agent } : {}) });
    },
  };
}

/**
 * The KBS `admits` hook: /auth opens a session only for an address where some agent's instance runs (or
 * one whose identity is its init-data alone, which /attest then checks before verifying anything).
 */
export function admitsFromLists(source: { snapshot(): { agents: AgentRecord[] } }): (q: { peerAddress: string }) => boolean {
  return (q) => {
    const at = normalizeAddress(q.peerAddress);
    return source.snapshot().agents.some((a) => (a.identity?.peerAddress !== undefined ? normalizeAddress(a.identity.peerAddress) === at : a.identity?.initDataDigest !== undefined));
  };
}

/**
 * The KBS `policyFor` hook over the same lists: the AttestationPolicy of an agent whose instance identity
 * matches the requester. When several agents match (e.g. local guests sharing 127.0.0.1) a policy that
 * admits the requested TEE is preferred; the release decision re-appraises per agent anyway.
 */
export function policyForFromLists(source: { snapshot(): { agents: AgentRecord[]; policies: PolicyRecord[] } }): (q: PolicyQuery) => Promise<PolicyContext | undefined> {
  return (q) => {
    const { agents, policies } = source.snapshot();
    const request: ReleaseRequest = { resourcePath: '', verified: [], peerAddress: q.peerAddress, ...(q.initDataDigest ? { initDataDigest: q.initDataDigest } : {}) };
    const candidates = agents
      .filter((a) => identityMatches(a, request) === undefined)
      .map((a) => policies.find((p) => p.namespace === a.namespace && p.name === a.policyName))
      .filter((p): p is PolicyRecord => p !== undefined);
    const sample = q.tee === 'sample' || q.tee === 'sampledevice';
    const chosen = candidates.find((p) => !sample || p.spec.allowSampleTee) ?? candidates[0];
    return Promise.resolve(chosen ? { id: `${chosen.namespace}/${chosen.name}`, spec: chosen.spec, referenceValues: chosen.referenceValues } : undefined);
  };
}
