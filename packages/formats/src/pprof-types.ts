// In-memory shape of a pprof Profile (github.com/google/pprof/proto/profile.proto). Strings are
// resolved (no string-table indices) so callers never handle the table; the codec in pprof.ts
// builds and reads the table. Numbers are JS numbers: pprof int64 values here stay < 2^53.

export interface PprofValueType {
  type: string;   // 'inuse_space', 'samples', 'cpu'
  unit: string;   // 'bytes', 'count', 'nanoseconds'
}

export interface PprofFunction {
  id: number;          // > 0, unique
  name: string;
  systemName: string;
  filename: string;
  startLine: number;
}

export interface PprofLine {
  functionId: number;
  line: number;
  column?: number;
}

export interface PprofLocation {
  id: number;          // > 0, unique
  mappingId: number;   // 0: none
  address: number;
  lines: PprofLine[];  // innermost (callee) first, as in profile.proto
}

export interface PprofLabel {
  key: string;
  str?: string;
  num?: number;
  numUnit?: string;
}

export interface PprofSample {
  /** Leaf (allocating / running function) first, root last, as in profile.proto. */
  locationIds: number[];
  /** One value per sampleType, same order. */
  values: number[];
  labels?: PprofLabel[];
}

export interface PprofMapping {
  id: number;
  memoryStart: number;
  memoryLimit: number;
  fileOffset: number;
  filename: string;
  buildId: string;
  hasFunctions: boolean;
}

export interface PprofProfile {
  sampleTypes: PprofValueType[];
  samples: PprofSample[];
  mappings: PprofMapping[];
  locations: PprofLocation[];
  functions: PprofFunction[];
  timeNanos: number;
  durationNanos: number;
  periodType: PprofValueType | null;
  period: number;
  comments: string[];
  /** Index into sampleTypes of the type shown by default (pprof `default_sample_type`); -1 none. */
  defaultSampleType: number;
}
