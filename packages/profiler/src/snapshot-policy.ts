// Which bundles the snapshot policy asks a full snapshot for. Asking is not taking: the budget
// and the resource guard (evidence-writer.ts) still decide, so this is only the policy's half.
import type { EvidenceTriggerKind } from '@tailtrace/formats';
import type { SnapshotPolicy } from './evidence-writer.ts';

export function policyWants(policy: SnapshotPolicy, kind: EvidenceTriggerKind): boolean {
  return policy === 'triggers' || (policy === 'manual' && (kind === 'signal' || kind === 'endpoint'));
}
