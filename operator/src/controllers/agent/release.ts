// Release phase (condition CredentialsReleased). Challenge mode: push each SealedCredential to the
// attested guest (each push a fresh attestation). KBS mode: the guest pulls from the operator's KBS; what
// the KBS released is recorded here in status, like a challenge delivery, so status — not the KBS's
// memory — is the source of truth: after a restart or a leader change CredentialsReleased stays True
// and nothing is released again without a fresh attestation. The KBS's events only re-queue the agent.
import { createHash } from 'node:crypto';
import { AgentCondition, AgentReason, EventAction } from '../../api/conditions.ts';
import type { ConfidentialAgent, ConfidentialAgentStatus } from '../../api/confidential-agent.ts';
import type { SealedCredential } from '../../api/sealed-credential.ts';
import { unseal } from '../../release/sealing/envelope.ts';
import type { SealingKeyring } from '../../release/sealing/keyring.ts';
import { sealScopeOf } from '../../release/sealing/status.ts';
import type { SharedInformer } from '../../runtime/manager.ts';
import { agentKey, PhaseOrderError, RETRY_AFTER_FAILURE_MS, type AgentFacts, type Phase, type PhaseContext, type PhaseEvent, type PhaseResult } from './phase.ts';

export type Delivery = NonNullable<ConfidentialAgentStatus['credentials']>[number];

/** What the KBS released since the operator started, per agent (`namespace/name`): a buffer until recorded in status. */
export interface KbsDeliveries {
  publicUrl: string;
  /** PEM the guest must trust the KBS with (HTTPS); sent as kbs_cert in the attested bootstrap push. */
  kbsCert?(): string | undefined;
  /** Releases to the agent by credential; `digest`: which sealed value went out (absent in older receipts). */
  delivered(agentKey: string): Map<string, { resourcePath: string; at: string; digest?: string }>;
  forget(agentKey: string): void;
}

export interface ReleaseDeps {
  credentials: SharedInformer<SealedCredential>;
  keyring: () => SealingKeyring;
  kbs?: KbsDeliveries;
  /** Counts challenge deliveries (KBS deliveries are counted where the KBS reports them). */
  metrics?: ReleaseRecorder;
}

export interface ReleaseRecorder {
  release(mode: 'Challenge' | 'KBS', result: 'delivered' | 'refused' | 'error'): void;
}

/** While waiting for a KBS fetch; the KBS's release events re-queue the agent sooner. */
const KBS_WAIT_MS = 30_000;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function releasePhase(deps: ReleaseDeps): Phase {
  return {
    name: 'release',
    condition: AgentCondition.CredentialsReleased,
    blocks: { reason: AgentReason.NotAttested, message: 'the credentials are not released' },
    async reconcile(agent, ctx) {
      const guest = ctx.facts.guest;
      if (!guest) throw new PhaseOrderError('release', 'attested guest');
      // A new instance holds nothing yet: deliveries recorded for an earlier instance do not count.
      const fresh = guest.newInstance === true;
      const previous = fresh ? [] : (agent.status?.credentials ?? []);
      const released =
        agent.spec.delivery.mode === 'KBS' && deps.kbs ? recordKbs(agent, deps.kbs, previous, fresh ? ctx.now : undefined) : await pushCredentials(agent, guest, previous, ctx);
      const delivered = released.newlyDelivered.map((d) => `${d.name} (sha256 ${d.digest.slice(0, 12)})`);
      if (delivered.length) {
        released.events.unshift({ type: 'Normal', reason: AgentReason.CredentialReleased, action: EventAction.Release, note: `delivered ${delivered.join(', ')}` });
      }
      return {
        condition: released.condition,
        status: { credentials: released.deliveries },
        events: released.events,
        ...(released.condition.status === 'True' ? {} : { requeueAfterMs: released.retryMs }),
      };
    },
    async finalize(agent) {
      deps.kbs?.forget(agentKey(agent));
      return { done: true };
    },
  };

  async function pushCredentials(agent: ConfidentialAgent, guest: NonNullable<AgentFacts['guest']>, previousList: Delivery[], ctx: PhaseContext): Promise<Released> {
    const previous = new Map(previousList.map((d) => [d.name, d]));
    const deliveries: Delivery[] = [];
    const newlyDelivered: Delivery[] = [];
    const problems: Array<{ reason: string; message: string }> = [];
    for (const ref of agent.spec.credentials) {
      const cred = deps.credentials.get(agent.metadata.namespace, ref.name);
      if (!cred) {
        problems.push({ reason: AgentReason.CredentialNotFound, message: `SealedCredential ${ref.name} does not exist` });
        continue;
      }
      const digest = sha256(cred.spec.encryptedData);
      const done = previous.get(ref.name);
      if (done && done.digest === digest && done.mode === 'Challenge') {
        deliveries.push(done);
        continue;
      }
      if (cred.spec.scope.agents.length > 0 && !cred.spec.scope.agents.includes(agent.metadata.name)) {
        deps.metrics?.release('Challenge', 'refused');
        problems.push({ reason: AgentReason.NotInScope, message: `SealedCredential ${ref.name} is not sealed for agent ${agent.metadata.name}` });
        continue;
      }
      const opened = unseal(cred.spec.encryptedData, deps.keyring(), sealScopeOf(cred));
      if (!opened.ok) {
        deps.metrics?.release('Challenge', 'refused');
        problems.push({ reason: opened.code, message: `SealedCredential ${ref.name}: ${opened.message}` });
        continue;
      }
      const result = await guest.push(cred.spec.resourcePath, opened.plaintext);
      opened.plaintext.fill(0);
      if (!result.ok) {
        deps.metrics?.release('Challenge', result.verification ? 'refused' : 'error');
        problems.push({ reason: result.verification?.code ?? result.code, message: `${ref.name}: ${result.verification?.message ?? result.message}` });
        continue;
      }
      const delivery: Delivery = { name: ref.name, resourcePath: cred.spec.resourcePath, mode: 'Challenge', digest, deliveredAt: new Date(ctx.clock.now()).toISOString() };
      deliveries.push(delivery);
      newlyDelivered.push(delivery);
      deps.metrics?.release('Challenge', 'delivered');
    }
    const events: PhaseEvent[] = problems.map((p) => ({ type: 'Warning', reason: p.reason, action: EventAction.Release, note: p.message }));
    const first = problems[0];
    const condition: PhaseResult['condition'] = first
      ? { status: 'False', reason: first.reason, message: problems.map((p) => p.message).join('; ') }
      : { status: 'True', reason: AgentReason.Delivered, message: `${deliveries.length} credential(s) delivered by challenge` };
    return { condition, deliveries, newlyDelivered, events, retryMs: RETRY_AFTER_FAILURE_MS };
  }

  /**
   * KBS mode: deliveries already in status stand (same credential digest); new ones come from the KBS's
   * buffer. `since`: after a fresh attestation only releases from then on count (older ones went to the
   * previous instance).
   */
  function recordKbs(agent: ConfidentialAgent, kbs: KbsDeliveries, previousList: Delivery[], since: Date | undefined): Released {
    const buffered = kbs.delivered(agentKey(agent));
    const previous = new Map(previousList.filter((d) => d.mode === 'KBS').map((d) => [d.name, d]));
    const deliveries: Delivery[] = [];
    const newlyDelivered: Delivery[] = [];
    const waiting: string[] = [];
    for (const ref of agent.spec.credentials) {
      const cred = deps.credentials.get(agent.metadata.namespace, ref.name);
      if (!cred) {
        waiting.push(ref.name);
        continue;
      }
      const digest = sha256(cred.spec.encryptedData);
      const got = buffered.get(ref.name);
      const recorded = previous.get(ref.name);
      // The receipt says which value went out: one fetched before a rotation is recorded with the old digest,
      // so the attest phase sees the rotation (CredentialRotated) and the guest fetches again.
      const releasedDigest = got?.digest ?? digest;
      if (got && !(since && Date.parse(got.at) < since.getTime()) && !(recorded?.digest === releasedDigest && recorded.deliveredAt === got.at)) {
        const d: Delivery = { name: ref.name, resourcePath: got.resourcePath, mode: 'KBS', digest: releasedDigest, deliveredAt: got.at };
        deliveries.push(d);
        newlyDelivered.push(d);
        if (releasedDigest !== digest) waiting.push(ref.name); // the guest holds an older value
      } else if (recorded && recorded.digest === digest) {
        deliveries.push(recorded);
      } else {
        waiting.push(ref.name);
      }
    }
    const condition: PhaseResult['condition'] = waiting.length
      ? { status: 'False', reason: AgentReason.WaitingForGuestFetch, message: `waiting for the guest to fetch ${waiting.join(', ')} from the KBS` }
      : { status: 'True', reason: AgentReason.Delivered, message: `${deliveries.length} credential(s) fetched by the guest from the KBS` };
    return { condition, deliveries, newlyDelivered, events: [], retryMs: KBS_WAIT_MS };
  }
}

interface Released {
  condition: PhaseResult['condition'];
  deliveries: Delivery[];
  newlyDelivered: Delivery[];
  events: PhaseEvent[];
  retryMs: number;
}
