// Endpoint phase (condition EndpointReady): the agent's in-cluster endpoint. Three owned objects, named
// after the agent, applied server-side with a controller owner reference (garbage-collected with it) and
// watched through `owns()` so drift is repaired:
//   ConfigMap  <agent>-tng      the rendered TNG client config (protocol/tng-config.ts), validated here
//   Deployment <agent>-gateway  upstream TNG in mapping mode: 0.0.0.0:<port> → the instance's TNG egress,
//                               every connection verified against the operator attestation service (AS)
//                               under the agent's policy id; restricted-PSS pod, no privileges
//   Service    <agent>          ClusterIP: the workload port (HTTP: the workload's /health too) + TNG health
// Revocation has two layers: TNG asks the AS per connection (the AS refusing the instance refuses the
// connection), and this phase withdraws the gateway itself the moment the instance is no longer attested
// (an earlier phase blocks it): scaled to zero under onAttestationFailure=Revoke (default), kept under Keep.
import { createHash } from 'node:crypto';
import { EndpointSchema, DEFAULT_TNG_IMAGE, type ConfidentialAgent, type EndpointSpec } from '../../api/confidential-agent.ts';
import { AgentCondition, EndpointReason, EventAction } from '../../api/conditions.ts';
import type { InstanceInfo } from '../../cloud/provider.ts';
import { renderIngress, TNG_CONTROL_PORT, TngConfigError } from '../../protocol/tng-config.ts';
import { apply, controllerOf, withControllerReference } from '../../runtime/apply.ts';
import { toRuntimeError } from '../../runtime/errors.ts';
import type { KubeClients, KubernetesObject, SharedInformer } from '../../runtime/manager.ts';
import { agentScopedId, policyScopedId } from '../../attestation/service/policy-id.ts';
import { ENDPOINT_LABEL } from '../resources.ts';
import { PhaseOrderError, RETRY_AFTER_FAILURE_MS, type Phase, type PhaseContext, type PhaseEvent, type PhaseResult } from './phase.ts';

export interface EndpointDeps {
  clients: KubeClients;
  /** Informers of the owned kinds (label-selected on ENDPOINT_LABEL); the operator also passes them to owns(). */
  gateways: { configMaps: SharedInformer<KubernetesObject>; deployments: SharedInformer<KubernetesObject>; services: SharedInformer<KubernetesObject> };
  /**
   * The operator attestation service as gateway Pods reach it (Trustee restful AS API): its URL and the
   * PEM bundle of its CA, which the gateway pins (`trusted_certs_paths` + SSL_CERT_FILE; TNG merges the
   * anchors `/certificate` serves with these, so the channel to the AS must itself be authenticated).
   * `trustBundlePem` returning undefined: the AS has no CA yet (the phase waits).
   */
  attestationService: { url: string; trustBundlePem?: () => string | undefined };
  /** Default gateway image (spec.endpoint.image overrides). */
  tngImage?: string;
}

/** Every owned object carries ENDPOINT_LABEL (value: the agent name); the informers select on it. */
export { ENDPOINT_LABEL };
export const CONFIG_KEY = 'config.json';
export const CA_KEY = 'as-ca.pem';
const TNG_DIR = '/etc/tng';
const CONFIG_DIGEST_ANNOTATION = 'confidential-agent.io/tng-config-digest';

export const gatewayNames = (agent: string) => ({ configMap: `${agent}-tng`, deployment: `${agent}-gateway`, service: agent });
/**
 * Whether the agent's instance launches with its init-data, so its evidence names the agent (TDX: MRCONFIGID).
 * ECS RunInstances has no init-data parameter, so an alibaba instance's evidence cannot tell agents apart.
 */
export const bindsInstanceIdentity = (agent: ConfidentialAgent): boolean => !agent.spec.instance.alibaba;
/**
 * The AS policy id the gateway enforces (attestation/service/policy-id.ts). Agent-scoped where the instance
 * carries the agent's init-data: only this agent's instance passes. Otherwise policy-scoped: an agent-scoped id
 * would refuse every connection, so the gateway accepts any instance passing the agent's policy, and the
 * condition says so (a security team sees the weaker binding instead of an endpoint that never connects).
 */
export const policyIdOf = (agent: ConfidentialAgent): string =>
  bindsInstanceIdentity(agent)
    ? agentScopedId(agent.metadata.namespace ?? '', agent.spec.attestationPolicyRef.name, agent.metadata.name)
    : policyScopedId(agent.metadata.namespace ?? '', agent.spec.attestationPolicyRef.name);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function endpointSpecOf(agent: ConfidentialAgent): EndpointSpec {
  return EndpointSchema.parse(agent.spec.endpoint ?? {});
}

/** The instance's TNG egress as reachable from the cluster (local provider: its host-mapped port). */
export function upstreamOf(instance: InstanceInfo, egressPort: number): { host: string; port: number } | undefined {
  const host = (instance.address ?? '').replace(/:\d+$/, '');
  if (!host) return undefined;
  return { host, port: instance.ports?.[egressPort] ?? egressPort };
}

export interface GatewayInput {
  agent: ConfidentialAgent;
  spec: EndpointSpec;
  config: string;
  /** AS CA bundle the gateway pins (absent: an AS without TLS, development only). */
  caPem?: string;
  image: string;
  replicas: 0 | 1;
}

/** The three owned objects, pure (the phase applies them; tests admit them to a real API server). */
export function gatewayObjects(i: GatewayInput): { configMap: KubernetesObject; deployment: KubernetesObject; service: KubernetesObject } {
  const name = i.agent.metadata.name;
  const namespace = i.agent.metadata.namespace;
  const names = gatewayNames(name);
  const port = i.spec.port ?? i.agent.spec.workload.port;
  const labels = { 'app.kubernetes.io/name': 'tng-gateway', 'app.kubernetes.io/managed-by': 'confidential-agent-operator', [ENDPOINT_LABEL]: name };
  const selector = { [ENDPOINT_LABEL]: name, 'app.kubernetes.io/name': 'tng-gateway' };
  const own = <T extends KubernetesObject>(o: T) => withControllerReference(o, i.agent as unknown as KubernetesObject);
  const configMap = own({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: names.configMap, namespace, labels }, data: { [CONFIG_KEY]: i.config, ...(i.caPem ? { [CA_KEY]: i.caPem } : {}) } } as KubernetesObject);
  const deployment = own({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: names.deployment, namespace, labels },
    spec: {
      replicas: i.replicas,
      selector: { matchLabels: selector },
      // Recreate: a config change (new instance, new policy) never leaves an old gateway serving beside the new one.
      strategy: { type: 'Recreate' },
      template: {
        // The digest covers config and CA: either changing restarts the gateway (TNG reads both at start).
        metadata: { labels, annotations: { [CONFIG_DIGEST_ANNOTATION]: sha256(i.config + (i.caPem ?? '')) } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'tng',
              image: i.image,
              command: ['tng', 'launch', '--config-file', `${TNG_DIR}/${CONFIG_KEY}`],
              // TNG's HTTPS client (rustls-platform-verifier) trusts SSL_CERT_FILE: the AS CA only.
              ...(i.caPem ? { env: [{ name: 'SSL_CERT_FILE', value: `${TNG_DIR}/${CA_KEY}` }] } : {}),
              ports: [
                { name: 'tunnel', containerPort: port, protocol: 'TCP' },
                { name: 'tng-health', containerPort: TNG_CONTROL_PORT, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/readyz', port: 'tng-health' }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: '/livez', port: 'tng-health' }, periodSeconds: 10 },
              securityContext: {
                allowPrivilegeEscalation: false,
                privileged: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
              volumeMounts: [
                { name: 'config', mountPath: TNG_DIR, readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: names.configMap } },
            { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
          ],
        },
      },
    },
  } as KubernetesObject);
  const service = own({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: names.service, namespace, labels },
    spec: {
      type: 'ClusterIP',
      selector,
      ports: [
        { name: i.spec.protocol === 'HTTP' ? 'http' : 'tcp', port, targetPort: 'tunnel', protocol: 'TCP', ...(i.spec.protocol === 'HTTP' ? { appProtocol: 'http' } : {}) },
        { name: 'tng-health', port: TNG_CONTROL_PORT, targetPort: 'tng-health', protocol: 'TCP', appProtocol: 'http' },
      ],
    },
  } as KubernetesObject);
  return { configMap, deployment, service };
}

export function endpointPhase(deps: EndpointDeps): Phase {
  const image = (spec: EndpointSpec) => spec.image ?? deps.tngImage ?? DEFAULT_TNG_IMAGE;

  /** Applies what differs from the cache (drift, or a new desired state); returns whether anything was sent. */
  async function ensure(agent: ConfidentialAgent, objects: KubernetesObject[], signal: AbortSignal): Promise<boolean> {
    let sent = false;
    for (const o of objects) {
      const cached = informerOf(o.kind).get(o.metadata?.namespace, o.metadata?.name ?? '');
      if (cached && !owned(cached, agent)) {
        // Never take over an object someone else made (a user's Service called like the agent, say).
        throw new EndpointConflictError(`${o.kind ?? '?'} ${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''} exists and is not controlled by this agent; rename or delete it`);
      }
      if (cached && contains(cached, o)) continue;
      if (!cached) await createIfAbsent(o, signal);
      await apply(deps.clients, o, { signal });
      sent = true;
    }
    return sent;
  }
  /**
   * An apply that creates needs `create` RBAC besides `patch`, checked inside the PATCH request (the audit log
   * shows only `patch`). Creating explicitly first makes the grant visible and used; the apply that follows
   * takes the fields as the operator's (AlreadyExists: another reconcile or a stale cache, the apply decides).
   */
  async function createIfAbsent(o: KubernetesObject, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    try {
      await deps.clients.objects.create(o as Parameters<KubeClients['objects']['create']>[0], undefined, undefined, deps.clients.fieldManager);
    } catch (err) {
      const e = toRuntimeError(err, `create ${o.kind ?? '?'} ${o.metadata?.name ?? '?'}`);
      if (e.code !== 'CONFLICT') throw e; // 409 AlreadyExists
    }
  }
  function informerOf(kind: string | undefined): SharedInformer<KubernetesObject> {
    if (kind === 'ConfigMap') return deps.gateways.configMaps;
    if (kind === 'Deployment') return deps.gateways.deployments;
    return deps.gateways.services;
  }
  const owned = (o: KubernetesObject, agent: ConfidentialAgent) => controllerOf(o, { apiVersion: agent.apiVersion ?? 'confidential-agent.io/v1alpha1', kind: 'ConfidentialAgent' })?.uid === agent.metadata.uid;

  async function removeAll(agent: ConfidentialAgent, ctx: PhaseContext): Promise<number> {
    const names = gatewayNames(agent.metadata.name);
    let removed = 0;
    for (const [kind, name, apiVersion] of [['Service', names.service, 'v1'], ['Deployment', names.deployment, 'apps/v1'], ['ConfigMap', names.configMap, 'v1']] as const) {
      const cached = informerOf(kind).get(agent.metadata.namespace, name);
      if (!cached || !owned(cached, agent)) continue; // never delete what another controller owns
      ctx.signal.throwIfAborted();
      try {
        await deps.clients.objects.delete({ apiVersion, kind, metadata: { name, namespace: agent.metadata.namespace ?? '' } });
        removed++;
      } catch (err) {
        const e = toRuntimeError(err, `delete ${kind} ${name}`);
        if (e.code !== 'NOT_FOUND') throw e;
      }
    }
    return removed;
  }

  const disabled = async (agent: ConfidentialAgent, ctx: PhaseContext): Promise<PhaseResult> => {
    const removed = await removeAll(agent, ctx);
    return {
      condition: { status: 'True', reason: EndpointReason.EndpointDisabled, message: 'spec.endpoint.enabled is false: no gateway' },
      status: { endpoint: undefined },
      ...(removed ? { events: [{ type: 'Normal', reason: EndpointReason.EndpointDisabled, action: EventAction.Expose, note: 'endpoint disabled: gateway, Service and config removed' }] } : {}),
    };
  };

  return {
    name: 'endpoint',
    condition: AgentCondition.EndpointReady,
    blocks: { reason: EndpointReason.WaitingForEndpoint, message: 'the agent endpoint is not serving yet' },

    async reconcile(agent, ctx) {
      const spec = endpointSpecOf(agent);
      if (!spec.enabled) return disabled(agent, ctx);
      const instance = ctx.facts.instance;
      if (!instance) throw new PhaseOrderError('endpoint', 'running instance');
      const attestation = agent.status?.attestation;
      if (attestation?.instanceId !== instance.id) throw new PhaseOrderError('endpoint', 'attestation of the current instance');
      const upstream = upstreamOf(instance, spec.egressPort);
      if (!upstream) return { condition: { status: 'False', reason: EndpointReason.NoInstanceAddress, message: `instance ${instance.id} has no address` }, requeueAfterMs: RETRY_AFTER_FAILURE_MS };
      const policyId = policyIdOf(agent);
      const port = spec.port ?? agent.spec.workload.port;
      const as = deps.attestationService;
      const caPem = as.trustBundlePem?.();
      if (as.trustBundlePem && !caPem) return { condition: { status: 'False', reason: EndpointReason.AttestationServiceNotReady, message: 'the operator attestation service has no CA yet' }, requeueAfterMs: 2_000 };
      let config: string;
      try {
        config = renderIngress({
          listen: { host: '0.0.0.0', port },
          upstream,
          asUrl: as.url,
          policyId,
          ...(caPem ? { asCaPath: `${TNG_DIR}/${CA_KEY}` } : {}),
          mode: spec.mode,
          control: { host: '0.0.0.0', port: TNG_CONTROL_PORT },
        });
      } catch (err) {
        if (!(err instanceof TngConfigError)) throw err;
        return { condition: { status: 'False', reason: EndpointReason.InvalidGatewayConfig, message: err.message }, requeueAfterMs: RETRY_AFTER_FAILURE_MS };
      }
      const digest = sha256(config + (caPem ?? ''));
      const objs = gatewayObjects({ agent, spec, config, ...(caPem ? { caPem } : {}), image: image(spec), replicas: 1 });
      try {
        await ensure(agent, [objs.configMap, objs.deployment, objs.service], ctx.signal);
      } catch (err) {
        const message = err instanceof EndpointConflictError ? err.message : toRuntimeError(err, 'apply gateway').message;
        return { condition: { status: 'False', reason: EndpointReason.ApplyFailed, message }, requeueAfterMs: RETRY_AFTER_FAILURE_MS };
      }
      const before = agent.status?.endpoint;
      const events: PhaseEvent[] = [];
      if (!before || before.configDigest !== digest || before.revoked || before.instanceId !== instance.id || before.policyId !== policyId) {
        const why = !before
          ? ['gateway created']
          : [
              ...(before.revoked ? ['gateway restored'] : []),
              ...(before.instanceId !== instance.id ? [`instance ${before.instanceId ?? '?'} → ${instance.id}`] : []),
              ...(before.policyId !== policyId ? [`policy ${before.policyId} → ${policyId}`] : []),
            ];
        if (why.length === 0) why.push('gateway config changed');
        events.push({ type: 'Normal', reason: EndpointReason.GatewayUpdated, action: EventAction.Expose, note: `${why.join('; ')}: forwarding ${port}/${spec.mode} to ${instance.id}, verified under ${policyId}` });
      }
      const serviceName = `${agent.metadata.name}.${agent.metadata.namespace ?? ''}.svc`;
      return {
        condition: {
          status: 'True',
          reason: EndpointReason.Serving,
          message:
            `${serviceName}:${port} (${spec.mode}) → instance ${instance.id}, each connection verified under ${policyId}` +
            (bindsInstanceIdentity(agent) ? '' : '; instance identity not bound (this provider launches without init-data): any instance passing the policy is accepted'),
        },
        status: { endpoint: { serviceName, port, protocol: spec.protocol, mode: spec.mode, policyId, instanceId: instance.id, configDigest: digest } },
        events,
      };
    },

    async blocked(agent, ctx, waiting) {
      const spec = endpointSpecOf(agent);
      if (!spec.enabled) return { ...(await disabled(agent, ctx)), condition: { status: 'False', ...waiting } };
      const before = agent.status?.endpoint;
      const instanceId = agent.status?.instance?.id;
      const attestedNow = agent.status?.conditions?.some((c) => c.type === AgentCondition.Attested && c.status === 'True') && agent.status?.attestation?.instanceId === instanceId;
      // Blocked after attestation (e.g. a credential not yet released): the attested instance still serves.
      if (attestedNow || !before) return { condition: { status: 'False', ...waiting } };
      if (spec.onAttestationFailure === 'Keep') {
        const message = `instance not attested (${waiting.reason}: ${waiting.message}); gateway kept (onAttestationFailure: Keep), the attestation service refuses each connection it cannot verify`;
        return { condition: { status: 'False', reason: EndpointReason.NotAttestedKept, message } };
      }
      const cached = deps.gateways.deployments.get(agent.metadata.namespace, gatewayNames(agent.metadata.name).deployment);
      const config = deps.gateways.configMaps.get(agent.metadata.namespace, gatewayNames(agent.metadata.name).configMap) as (KubernetesObject & { data?: Record<string, string> }) | undefined;
      const replicas = (cached as { spec?: { replicas?: number } } | undefined)?.spec?.replicas;
      if (cached && replicas !== 0) {
        // Scale to zero with the config it had: the Deployment body is re-rendered from the ConfigMap in force.
        const caPem = config?.data?.[CA_KEY];
        const revokedObjs = gatewayObjects({ agent, spec, config: config?.data?.[CONFIG_KEY] ?? '', ...(caPem ? { caPem } : {}), image: image(spec), replicas: 0 });
        try {
          await apply(deps.clients, revokedObjs.deployment, { signal: ctx.signal });
        } catch (err) {
          const e = toRuntimeError(err, 'revoke gateway');
          return { condition: { status: 'False', reason: EndpointReason.ApplyFailed, message: `revocation failed: ${e.message}` }, requeueAfterMs: 1_000 };
        }
      }
      const message = `gateway scaled to zero: instance ${instanceId ?? '?'} is not attested (${waiting.reason}: ${waiting.message})`;
      return {
        condition: { status: 'False', reason: EndpointReason.Revoked, message },
        status: { endpoint: { ...before, revoked: true } },
        events: before.revoked ? [] : [{ type: 'Warning', reason: EndpointReason.Revoked, action: EventAction.Revoke, note: message }],
      };
    },
  };
}

export class EndpointConflictError extends Error {
  readonly code = 'EndpointConflict';
  constructor(message: string) {
    super(message);
    this.name = 'EndpointConflictError';
  }
}

/** desired ⊆ actual: every field the operator sets has that value on the server (defaults added there are fine). */
export function contains(actual: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) return Array.isArray(actual) && actual.length === desired.length && desired.every((d, i) => contains(actual[i], d));
  if (desired !== null && typeof desired === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(desired).every(([k, v]) => v === undefined || contains((actual as Record<string, unknown>)[k], v));
  }
  return actual === desired;
}
