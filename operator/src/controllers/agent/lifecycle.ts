// The agent lifecycle: the one ordered list of phases the controller loops over. Adding a phase (for
// example an endpoint phase) is one new phase file plus one entry here.
import { attestPhase, type AttestDeps } from './attest.ts';
import type { Phase } from './phase.ts';
import { provisionPhase, type ProvisionDeps } from './provision.ts';
import { releasePhase, type ReleaseDeps } from './release.ts';
import { sandboxPolicyPhase, type SandboxPolicyDeps } from './sandbox-policy.ts';

export type LifecycleDeps = SandboxPolicyDeps & ProvisionDeps & AttestDeps & ReleaseDeps;

export function agentLifecycle(deps: LifecycleDeps): Phase[] {
  return [sandboxPolicyPhase(deps), provisionPhase(deps), attestPhase(deps), releasePhase(deps)];
}
