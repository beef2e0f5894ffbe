// The agent lifecycle: the one ordered list of phases the controller loops over. Adding a phase (for
// example an endpoint phase) is one new phase file plus one entry here.
import { attestPhase, type AttestDeps } from './attest.ts';
import { endpointPhase, type EndpointDeps } from './endpoint.ts';
import type { Phase } from './phase.ts';
import { provisionPhase, type ProvisionDeps } from './provision.ts';
import { releasePhase, type ReleaseDeps } from './release.ts';
import { sandboxPolicyPhase, type SandboxPolicyDeps } from './sandbox-policy.ts';

export type LifecycleDeps = SandboxPolicyDeps & ProvisionDeps & AttestDeps & ReleaseDeps & {
  /** The in-cluster TNG endpoint (absent: the operator exposes no endpoints, e.g. unit worlds without an API server). */
  endpoint?: EndpointDeps;
};

export function agentLifecycle(deps: LifecycleDeps): Phase[] {
  return [sandboxPolicyPhase(deps), provisionPhase(deps), attestPhase(deps), releasePhase(deps), ...(deps.endpoint ? [endpointPhase(deps.endpoint)] : [])];
}
