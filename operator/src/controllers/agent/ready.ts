// Ready summarises the lifecycle conditions (kstatus): it is True only when every step is True, and
// otherwise carries the reason and message of the first step that is not.
import type { Condition } from '../../api/common.ts';

export const LIFECYCLE = ['Provisioned', 'Attested', 'CredentialsReleased'] as const;
export type LifecycleCondition = (typeof LIFECYCLE)[number];

export interface ConditionInput {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export function summariseReady(conditions: readonly Condition[]): ConditionInput {
  for (const type of LIFECYCLE) {
    const c = conditions.find((x) => x.type === type);
    if (!c) return { type: 'Ready', status: 'Unknown', reason: 'Reconciling', message: `${type} has not been evaluated yet` };
    if (c.status !== 'True') return { type: 'Ready', status: c.status === 'Unknown' ? 'Unknown' : 'False', reason: c.reason, message: `${type}: ${c.message}` };
  }
  return { type: 'Ready', status: 'True', reason: 'AgentReady', message: 'instance provisioned, attested and holding its credentials' };
}
