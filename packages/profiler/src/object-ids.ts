// A heap snapshot leaves V8's heap profiler tracking every object move, so that later snapshots
// can give the same object the same id. That makes every garbage collection after the first
// snapshot much slower for the rest of the process's life: the same allocation work measured
// 22-49 ms of GC before a snapshot and 530-1,070 ms after it (Node 24; in the demo's gateway,
// GC time per 5 s window went from ~50 ms to ~250 ms and stayed there). Clearing the object ids
// (what the inspector's HeapProfiler.disable does) turns the tracking off again.
//
// The price: ids restart, so snapshots taken after a clear cannot be matched by id with earlier
// ones (`tailtrace heap leaks` over three snapshots of one process needs the ids; class diffs do
// not). evidence.keepSnapshotObjectIds keeps them, at the GC cost above.
import { Session } from 'node:inspector';

/** Stops V8's object-move tracking started by a heap snapshot. Never throws. */
export function stopTrackingObjectMoves(): boolean {
  const session = new Session();
  try {
    session.connect();
    // In-thread inspector sessions dispatch synchronously: both commands have run when post returns.
    session.post('HeapProfiler.enable');
    session.post('HeapProfiler.disable');
    return true;
  } catch {
    return false;
  } finally {
    try {
      session.disconnect();
    } catch {
      // never connected
    }
  }
}
