// The names every package uses for the same things, declared once. tracing and metrics import
// the types only (`import type`: nothing of this package loads in their runtime); the lists are
// for code that checks what it reads (`tailtrace diagnose`) or iterates every kind.

export const OPERATION_KINDS = ['http_server', 'http_client', 'rpc_server', 'rpc_client'] as const;
/** What a timed operation is: the span kind and protocol that recorded it. */
export type OperationKind = (typeof OPERATION_KINDS)[number];

/** What can make a service write an evidence bundle. */
export const TRIGGER_KINDS = ['p99_regression', 'heap_growth', 'heap_limit', 'signal', 'endpoint'] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** Why a bundle was written: a trigger, or `baseline`, the scheduled capture later bundles compare to. */
export const EVIDENCE_TRIGGER_KINDS = [...TRIGGER_KINDS, 'baseline'] as const;
export type EvidenceTriggerKind = (typeof EVIDENCE_TRIGGER_KINDS)[number];

/** What became of the heap snapshot a bundle may hold. skipped: the policy did not ask for one. */
export const SNAPSHOT_STATUSES = ['written', 'refused', 'failed', 'skipped'] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

export const GC_KINDS = ['minor', 'major', 'incremental', 'weakcb'] as const;
export type GcKind = (typeof GC_KINDS)[number];
