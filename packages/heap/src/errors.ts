/** A problem with a heap snapshot file. `message` is one line: `FILE: what is wrong`. */
export class HeapSnapshotError extends Error {
  readonly file: string;
  readonly reason: string;
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'HeapSnapshotError';
    this.file = file;
    this.reason = reason;
  }
}
