// Every problem with an evidence bundle is an EvidenceError whose message is ONE line that names
// the file and what is wrong, so the CLI can print it as is and exit 2.
export class EvidenceError extends Error {
  /** The file (or directory) the problem is in, as the user would type it. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem.replace(/\s*\n\s*/g, ' ')}`);
    this.name = 'EvidenceError';
    this.file = file;
  }
}
